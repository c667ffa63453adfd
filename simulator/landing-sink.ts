/**
 * Where the simulator puts landing objects. The lake's `Storage` satisfies it; tests pass a Map.
 *
 * @example
 * const objects = new Map<string, Buffer>();
 * const sink: LandingSink = { put: async (key, body) => void objects.set(key, body) };
 */
export interface LandingSink {
  put(key: string, body: Buffer): Promise<void>;
}
