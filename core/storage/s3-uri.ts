/** A bucket and a key prefix ('' or ending in '/'). */
export interface S3Location {
  readonly bucket: string;
  readonly prefix: string;
}

/**
 * `s3://bucket[/prefix]` to a location whose prefix is '' or ends in '/' (never starts with one); undefined
 * when it is not that or the bucket name is not a valid one. The one parser of lake locations (S3 storage,
 * the Glue layout, the AWS lake's configuration).
 */
export function parseS3Uri(uri: string): S3Location | undefined {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri.trim());
  if (!match) return undefined;
  const rest = (match[2] ?? '').replace(/^\/+|\/+$/g, '');
  return { bucket: match[1] as string, prefix: rest === '' ? '' : `${rest}/` };
}
