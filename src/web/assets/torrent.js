// A torrent's page (/torrent/<infohash>): its metadata, links, where it was seen, and a collapsible file tree.
import {
  ApiError,
  byId,
  count,
  errorBox,
  facts,
  fill,
  getJson,
  h,
  humanSize,
  infohashOf,
  table,
  timeEl
} from "./app.js"

/** Top-level folders start open when the torrent has at most this many files. */
const OPEN_FILES = 200
/** Entries of one folder rendered at once (a "show more" button renders the next ones). */
const CHUNK = 1000
const MAGNET_PREFIX = "magnet:?xt=urn:btih:"

const root = byId("torrent")

// === The file tree ===

const newDir = (name) => ({ name, dirs: new Map(), files: [], size: 0, count: 0 })

/** Folders from the "/"-separated paths, with each folder's total size and file count. */
export const buildTree = (files) => {
  const top = newDir("")
  for (const f of files) {
    const path = typeof f.path === "string" ? f.path : ""
    const length = typeof f.length === "number" ? f.length : 0
    const parts = path.split("/")
    const fileName = parts.pop()
    let dir = top
    dir.size += length
    dir.count++
    for (const part of parts) {
      let next = dir.dirs.get(part)
      if (next === undefined) {
        next = newDir(part)
        dir.dirs.set(part, next)
      }
      dir = next
      dir.size += length
      dir.count++
    }
    dir.files.push({ name: fileName, path, length })
  }
  return top
}

const byName = (a, b) => a.name.localeCompare(b.name, undefined, { numeric: true, sensitivity: "base" })
const label = (name) => (name === "" ? h("span", { class: "muted" }, "(no name)") : name)

/** The folder behind each <details> of the tree, rendered when first opened. */
const folders = new WeakMap()

const dirItem = (dir, depth, open) => {
  const list = h("ul", { class: "tree-list" })
  const details = h(
    "details",
    { class: "dir", open, dataset: { testid: "tree-dir" } },
    h(
      "summary",
      {},
      h("span", { class: "name" }, label(dir.name)),
      h("span", { class: "meta" }, `${count(dir.count)} file${dir.count === 1 ? "" : "s"} · ${humanSize(dir.size)}`)
    ),
    list
  )
  folders.set(details, { dir, depth, list, rendered: false })
  if (open) ensureRendered(details)
  return h("li", { class: "dir-item" }, details)
}

const fileItem = (f) =>
  h(
    "li",
    { class: "file", title: f.path, dataset: { testid: "tree-file" } },
    h("span", { class: "name" }, label(f.name)),
    h("span", { class: "size" }, humanSize(f.length))
  )

/** Renders a folder's entries into `list`, CHUNK at a time. */
const renderEntries = (list, dir, depth, from = 0) => {
  const entries = [...[...dir.dirs.values()].sort(byName), ...dir.files.slice().sort(byName)]
  const frag = document.createDocumentFragment()
  const end = Math.min(entries.length, from + CHUNK)
  for (let i = from; i < end; i++) {
    const e = entries[i]
    frag.appendChild(e.dirs ? dirItem(e, depth + 1, false) : fileItem(e))
  }
  if (end < entries.length) {
    const more = h("button", { type: "button", class: "link-button more" }, `show ${count(entries.length - end)} more…`)
    more.addEventListener("click", () => {
      more.parentElement.remove()
      renderEntries(list, dir, depth, end)
    })
    frag.appendChild(h("li", { class: "more-item" }, more))
  }
  list.appendChild(frag)
}

const ensureRendered = (details) => {
  const f = folders.get(details)
  if (f === undefined || f.rendered) return
  f.rendered = true
  renderEntries(f.list, f.dir, f.depth)
}

const fileTree = (files) => {
  const tree = buildTree(files)
  const container = h("div", { class: "tree", dataset: { testid: "file-tree" } })
  const list = h("ul", { class: "tree-list tree-root" })
  const frag = document.createDocumentFragment()
  const openTop = tree.count <= OPEN_FILES
  for (const d of [...tree.dirs.values()].sort(byName)) frag.appendChild(dirItem(d, 0, openTop))
  for (const f of tree.files.slice().sort(byName)) frag.appendChild(fileItem(f))
  list.appendChild(frag)
  // Folders are rendered the first time they are opened (fast for trees of thousands of files).
  list.addEventListener("toggle", (e) => {
    if (e.target instanceof HTMLDetailsElement && e.target.open) ensureRendered(e.target)
  }, true)
  const expand = h("button", { type: "button", class: "link-button", dataset: { testid: "expand-all" } }, "expand all")
  const collapse = h(
    "button",
    { type: "button", class: "link-button", dataset: { testid: "collapse-all" } },
    "collapse all"
  )
  expand.addEventListener("click", () => {
    // Opening renders children, which may hold further closed folders: repeat until none is left.
    for (
      let closed = list.querySelectorAll("details.dir:not([open])");
      closed.length > 0;
      closed = list.querySelectorAll("details.dir:not([open])")
    ) {
      for (const d of closed) {
        ensureRendered(d)
        d.open = true
      }
    }
  })
  collapse.addEventListener("click", () => {
    for (const d of list.querySelectorAll("details.dir[open]")) d.open = false
  })
  const hasDirs = tree.dirs.size > 0
  fill(container, hasDirs ? h("div", { class: "tree-tools" }, expand, " · ", collapse) : null, list)
  return container
}

// === The page ===

const sourceList = (seen) =>
  h(
    "ul",
    { class: "inline-list", dataset: { testid: "seen" } },
    [["sample", "sample_infohashes"], ["get_peers", "get_peers"], ["announce", "announce_peer"], ["lookup", "lookups"]]
      .map(([k, l]) => h("li", {}, h("span", { class: "muted" }, `${l} `), count(Number(seen?.[k]) || 0)))
  )

const show = (t, ih) => {
  document.title = `${t.name} · BitScrape`
  const links = h("div", { class: "actions" })
  const magnet = typeof t.magnet === "string" && t.magnet.toLowerCase().startsWith(MAGNET_PREFIX + ih) ? t.magnet : null
  if (magnet !== null) {
    links.appendChild(h("a", { href: magnet, class: "button primary", dataset: { testid: "magnet" } }, "Magnet link"))
    if (navigator.clipboard) {
      const copy = h("button", { type: "button", class: "button", dataset: { testid: "copy-magnet" } }, "Copy magnet")
      copy.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(magnet)
          copy.textContent = "Copied"
        } catch {
          copy.textContent = "Copy failed"
        }
        setTimeout(() => (copy.textContent = "Copy magnet"), 1500)
      })
      links.appendChild(copy)
    }
  }
  links.appendChild(
    h("a", {
      href: `/api/torrents/${ih}/file`,
      class: "button",
      download: `${ih}.torrent`,
      dataset: { testid: "torrent-file" }
    }, "Download .torrent")
  )
  const src = t.source
  const files = Array.isArray(t.files) ? t.files : []
  const peers = Array.isArray(t.peers) ? t.peers : []
  fill(
    root,
    h("h1", { class: "torrent-name", dataset: { testid: "torrent-name" } }, t.name),
    links,
    facts([
      ["Infohash", h("code", { class: "hash", dataset: { testid: "infohash" } }, ih)],
      typeof t.infohash_v2 === "string" ? ["Infohash v2", h("code", { class: "hash" }, t.infohash_v2)] : null,
      ["Size", h("span", { title: `${count(t.length)} bytes`, dataset: { testid: "size" } }, humanSize(t.length))],
      ["Files", count(files.length)],
      ["Piece length", t.piece_length === null ? "—" : humanSize(t.piece_length)],
      ["Private", t.private ? "yes (private tracker only)" : "no"],
      ["Version", t.version],
      ["Discovered", timeEl(t.discovered_at)],
      ["Metadata fetched", timeEl(t.fetched_at)],
      ["Seen by source", sourceList(t.seen)],
      ["Peers seen", count(t.peers_seen)],
      t.swarm ? ["Swarm (BEP 33)", `~${count(t.swarm.seeders)} seeders, ~${count(t.swarm.leechers)} leechers`] : null,
      ["Metadata from", src ? `${src.host}:${src.port}` : "—"],
      ["Client", src?.client ?? "—"]
    ], { dataset: { testid: "facts" } }),
    h(
      "section",
      {},
      h("h2", {}, "Files ", h("span", { class: "sub" }, `${count(files.length)} · ${humanSize(t.length)}`)),
      fileTree(files)
    ),
    h(
      "section",
      {},
      h(
        "h2",
        {},
        "Peers ",
        h("span", { class: "sub" }, `most recent ${count(peers.length)} of ${count(t.peers_seen)} seen`)
      ),
      peers.length === 0 ? h("p", { class: "muted" }, "No peer recorded.") : table(
        ["Address", { label: "Port", class: "num" }, "Last seen"],
        peers.map((p) =>
          h("tr", {}, h("td", {}, p.host), h("td", { class: "num" }, String(p.port)), h("td", {}, timeEl(p.last_seen)))
        )
      )
    )
  )
}

const load = async () => {
  const segment = decodeURIComponent(location.pathname.split("/").filter(Boolean).at(-1) ?? "")
  const ih = infohashOf(segment)
  if (ih === undefined) {
    document.title = "Not an infohash · BitScrape"
    fill(root, h("h1", {}, "Not an infohash"), errorBox("An infohash is 40 hexadecimal digits.", [segment]))
    return
  }
  try {
    show(await getJson(`/api/torrents/${ih}`), ih)
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      document.title = "Torrent not found · BitScrape"
      fill(
        root,
        h("h1", { dataset: { testid: "not-found" } }, "Torrent not found"),
        h(
          "p",
          {},
          "There is no torrent with infohash ",
          h("code", { class: "hash" }, ih),
          " in this database: it may not have been discovered, or its metadata not fetched yet."
        ),
        h("p", {}, h("a", { href: "/search" }, "Search the torrents"))
      )
    } else {
      fill(
        root,
        h("h1", {}, "Could not load the torrent"),
        errorBox("The server said:", e instanceof ApiError ? e.messages : [String(e)])
      )
    }
  }
}

void load()
