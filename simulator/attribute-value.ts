/** A DynamoDB attribute value in the JSON form streams carry, limited to the types the Todo API uses. */
export type AttributeValue =
  | { readonly S: string }
  | { readonly N: string }
  | { readonly SS: readonly string[] }
  | { readonly NULL: true };

/** An item, its key, or one of a change record's images. */
export type DynamoImage = Readonly<Record<string, AttributeValue>>;
