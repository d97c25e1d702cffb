// Client versions from the KRPC `v` key (pure). BEP 5 leaves `v` free-form; in practice clients send two
// letters naming the client (the codes of BEP 20's Azureus-style peer ids) and two bytes of version, which
// libtorrent fills with its major and minor version. Anything else is kept as "unknown".

/** Two-letter client codes seen in `v` and BEP 20 peer ids. */
export const CLIENT_CODES: Readonly<Record<string, string>> = {
  AG: "Ares",
  AZ: "Vuze (Azureus)",
  BC: "BitComet",
  BF: "Bitflu",
  BI: "BiglyBT",
  BN: "Baidu Netdisk",
  BS: "BitScrape",
  BT: "BitTorrent (mainline)",
  DE: "Deluge",
  FD: "Free Download Manager",
  FW: "FrostWire",
  GR: "GetRight",
  HL: "Halite",
  KT: "KTorrent",
  LT: "libtorrent (Rasterbar)",
  lt: "libTorrent (rakshasa)",
  LW: "LimeWire",
  MO: "MonoTorrent",
  PD: "Pando",
  qB: "qBittorrent",
  SD: "Thunder (Xunlei)",
  TR: "Transmission",
  TT: "TuoTu",
  TX: "Tixati",
  UM: "µTorrent for Mac",
  UT: "µTorrent",
  UW: "µTorrent Web",
  WD: "WebTorrent Desktop",
  WW: "WebTorrent",
  XL: "Xunlei"
}

/** A decoded `v`: the client code and name, and the version when it has the usual two bytes. */
export interface ClientVersion {
  /** The two letters, "" when none was sent, "?" when `v` does not start with two letters. */
  readonly code: string
  /** The client's name, "none" when no `v` was sent, "unknown" for an unknown code. */
  readonly client: string
  /** "1.2" for two version bytes after the code; the rest as hex otherwise; "" when absent. */
  readonly version: string
}

/** Decodes a KRPC `v` value. */
export const decodeClient = (v: Uint8Array | undefined): ClientVersion => {
  if (v === undefined || v.length === 0) return { code: "", client: "none", version: "" }
  const letters = String.fromCharCode(v[0]!, v.length > 1 ? v[1]! : 0)
  if (!/^[A-Za-z]{2}$/.test(letters)) return { code: "?", client: "unknown", version: Buffer.from(v).toString("hex") }
  const rest = v.subarray(2)
  return {
    code: letters,
    client: CLIENT_CODES[letters] ?? "unknown",
    version: rest.length === 2 ? `${rest[0]}.${rest[1]}` : Buffer.from(rest).toString("hex")
  }
}
