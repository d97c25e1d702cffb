// `--help` as BitScrape shows it. @effect/cli renders every option with its type's stock sentence ("A user-defined
// piece of text.", "An integer.", "This setting is optional.", …), which says nothing the usage line does not;
// those are dropped, the usage line names the program and shows repeatable options as optional, and each
// command's help ends with EXAMPLES (test/cli/help.test.ts checks every command).

/** Examples per command path ("" is `bitscrape` itself). Each is a command line as a user types it. */
export const EXAMPLES: Readonly<Record<string, ReadonlyArray<string>>> = {
  "": [
    "bitscrape crawl",
    "bitscrape demo --duration 30",
    "bitscrape search ubuntu --sort largest",
    "bitscrape --completions bash > ~/.local/share/bash-completion/completions/bitscrape"
  ],
  crawl: [
    "bitscrape crawl",
    "bitscrape crawl --duration 600 --max-pps 400 --identities 4",
    "bitscrape crawl --db postgres://bitscrape@127.0.0.1/bitscrape --no-ui --json",
    "bitscrape crawl --target 0/2 --no-metadata"
  ],
  demo: [
    "bitscrape demo --duration 30",
    "bitscrape demo --profile realistic --nodes 500 --no-ui --json"
  ],
  fetch: [
    "bitscrape fetch 08ada5a7a6183aae1e09d831df6748d566095a10 --peer 192.0.2.7:51413",
    "bitscrape fetch 'magnet:?xt=urn:btih:08ada5a7a6183aae1e09d831df6748d566095a10' --json --timeout 30"
  ],
  search: [
    "bitscrape search ubuntu --sort largest",
    "bitscrape search --min-size 1GB --since 2026-01-01 --limit 50 --json"
  ],
  show: [
    "bitscrape show 08ada5a7a6183aae1e09d831df6748d566095a10",
    "bitscrape show 'magnet:?xt=urn:btih:08ada5a7a6183aae1e09d831df6748d566095a10' --json"
  ],
  export: [
    "bitscrape export --format jsonl --out crawl.jsonl",
    "bitscrape export --format csv --query ubuntu --min-size 1GB --out ubuntu.csv",
    "bitscrape export --format torrent --out torrents/ --since 2026-01-01"
  ],
  stats: ["bitscrape stats", "bitscrape stats --json --db postgres://bitscrape@127.0.0.1/bitscrape"],
  serve: [
    "bitscrape serve",
    "BITSCRAPE_UI_TOKEN=$(openssl rand -hex 16) bitscrape serve --ui-host 0.0.0.0 --ui-port 8881"
  ],
  import: [
    "bitscrape import ~/Downloads/torrents",
    "bitscrape import infohashes.txt 'magnet:?xt=urn:btih:08ada5a7a6183aae1e09d831df6748d566095a10'",
    "bitscrape import --fetch --timeout 30 08ada5a7a6183aae1e09d831df6748d566095a10",
    "cat infohashes.txt | bitscrape import --db crawl.db -"
  ],
  saved: [
    "bitscrape saved add ubuntu --search 'q=ubuntu&min_size=1GB' --webhook http://127.0.0.1:9000/hook",
    "bitscrape saved list",
    "bitscrape saved run --once"
  ],
  "saved add": [
    "bitscrape saved add ubuntu --search 'q=ubuntu&min_size=1GB' --webhook http://127.0.0.1:9000/hook",
    "bitscrape saved add films --search 'http://127.0.0.1:8881/search?q=1080p&sort=newest' --webhook https://example.org/hook"
  ],
  "saved list": ["bitscrape saved list", "bitscrape saved list --json"],
  "saved remove": ["bitscrape saved remove ubuntu"],
  "saved run": ["bitscrape saved run", "bitscrape saved run --once --json"],
  analyze: [
    "bitscrape analyze content",
    "bitscrape analyze sources --json",
    "bitscrape analyze clients --top 50 --csv > clients.csv",
    "bitscrape analyze popularity --since 2026-12-01",
    "bitscrape analyze size --lookups 200"
  ],
  "analyze content": ["bitscrape analyze content", "bitscrape analyze content --top 50 --json"],
  "analyze sources": ["bitscrape analyze sources", "bitscrape analyze sources --days 30 --csv > sources.csv"],
  "analyze clients": ["bitscrape analyze clients", "bitscrape analyze clients --top 50 --json"],
  "analyze churn": ["bitscrape analyze churn", "bitscrape analyze churn --json"],
  "analyze popularity": ["bitscrape analyze popularity", "bitscrape analyze popularity --since 2026-12-01 --top 100"],
  "analyze size": ["bitscrape analyze size", "bitscrape analyze size --lookups 200 --json"],
  block: [
    "bitscrape block add 08ada5a7a6183aae1e09d831df6748d566095a10 --reason 'takedown request'",
    "bitscrape block add 'name:*sample*'",
    "bitscrape block list",
    "bitscrape block remove 3"
  ],
  "block add": [
    "bitscrape block add 08ada5a7a6183aae1e09d831df6748d566095a10 --reason 'takedown request'",
    "bitscrape block add 'name:*sample*' 'name:*.exe'"
  ],
  "block list": ["bitscrape block list", "bitscrape block list --json"],
  "block remove": ["bitscrape block remove 3", "bitscrape block remove 'name:*sample*'"],
  scrape: [
    "bitscrape scrape 08ada5a7a6183aae1e09d831df6748d566095a10",
    "bitscrape scrape 'magnet:?xt=urn:btih:08ada5a7a6183aae1e09d831df6748d566095a10' --json"
  ]
}

/** The stock sentences of @effect/cli's option and argument types, which the usage line already conveys. */
const STOCK = [
  /^A user-defined piece of text( that is confidential)?\.$/,
  /^An? (integer|floating point number|true or false value)\.$/,
  /^A date without a time-zone in the ISO-8601 format, such as .*\.$/,
  /^(A|An existing) (file|directory|file or directory)( that must not exist)?\.$/,
  /^This setting is optional\.$/,
  /^This (option|argument) may be repeated zero or more times\.$/,
  /^This (option|argument) can be set from environment variables\.$/
]

// ANSI colour codes, built from a string so the pattern holds no control character.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g")
const plain = (line: string) => line.replace(ANSI, "").trim()

/** Commands with subcommands of their own. */
const GROUPS = new Set(["saved", "analyze", "block"])

/** The command path a command line names: its leading words (`saved add`), "" for `bitscrape` alone. */
export const commandPath = (args: ReadonlyArray<string>): string => {
  const words: Array<string> = []
  for (const a of args) {
    if (a.startsWith("-")) break
    words.push(a)
    if (words.length === 2 || !GROUPS.has(words[0]!)) break
  }
  const path = words.join(" ")
  return EXAMPLES[path] !== undefined
    ? path
    : words[0] !== undefined && EXAMPLES[words[0]] !== undefined
    ? words[0]
    : ""
}

/** @effect/cli's help text for `path`, made BitScrape's (see the top of this file). */
export const cleanHelp = (text: string, path: string): string => {
  const colour = new RegExp(ANSI.source).test(text)
  const lines = text.split("\n")
  const out: Array<string> = []
  for (const line of lines) {
    if (STOCK.some((re) => re.test(plain(line)))) {
      // Drop the sentence and the blank line after it.
      out.push("\u0000")
      continue
    }
    if (out[out.length - 1] === "\u0000") {
      out.pop()
      if (plain(line) === "") continue
    }
    let l = line
    if (plain(l).startsWith("$ ")) {
      // The usage line: the program and the command's whole path, and repeatable options (zero or more) as
      // optional.
      l = l.replace(/\$ \S+/, path === "" ? "$ bitscrape" : `$ bitscrape ${path}`)
        .replace(/(^|[^[])(--[a-z-]+ [^\s\]]+)\.\.\./g, "$1[$2]...")
    }
    const command = /^(\s*- )(.+?)\s{2,}(\S.*)$/.exec(l.replace(ANSI, ""))
    if (command !== null) {
      // The COMMANDS list: @effect/cli pads every entry to the longest usage line (hundreds of columns). Here
      // each command is its name and description; its usage is in its own --help.
      const name = command[2]!.split(" ").filter((_w, i, all) => all.slice(0, i + 1).every((x) => /^[a-z]/.test(x)))
      l = `${command[1]}bitscrape ${name.join(" ")}\n      ${command[3]}`
    }
    out.push(l)
  }
  while (out[out.length - 1] === "\u0000") out.pop()
  const examples = EXAMPLES[path] ?? []
  const header = colour ? `${String.fromCharCode(27)}[0;1mEXAMPLES${String.fromCharCode(27)}[0m` : "EXAMPLES"
  const body = out.join("\n").replace(/\s+$/, "")
  return examples.length === 0 ? `${body}\n` : `${body}\n\n${header}\n\n${examples.map((e) => `  $ ${e}`).join("\n")}\n`
}
