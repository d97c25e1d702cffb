// Minimal types for npm `bencode` 4 (it ships none).
declare module "bencode" {
  /** Encodes a value: objects as dictionaries (keys sorted), arrays as lists, Uint8Array/strings as bytes. */
  export function encode(data: unknown): Uint8Array
  /** Decodes bencoded bytes; byte strings come back as Uint8Array unless an encoding is given. Throws on bad input. */
  export function decode(data: Uint8Array, start?: number, end?: number, encoding?: string): unknown
  export function byteLength(data: unknown): number
  const bencode: { encode: typeof encode; decode: typeof decode; byteLength: typeof byteLength }
  export default bencode
}
