"""libtorrent settings for sessions that live on loopback, each with the reason it is set (see INTEROP.md)."""
import ipaddress

import libtorrent as lt

cat = lt.alert.category_t


def loopback(host):
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"refusing non-loopback address {host}")
    return host


def endpoint(host, port):
    """host:port, an IPv6 host in brackets ([::1]:6881), as libtorrent's listen_interfaces and bootstrap lists read."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def session_settings(host, port, bootstrap, overrides):
    settings = {
        # One loopback address for TCP, uTP and the DHT socket; peer connections also leave from it.
        "listen_interfaces": endpoint(host, port),
        "outgoing_interfaces": host,
        # LSD (multicast), UPnP (SSDP), NAT-PMP (gateway) and the interface watcher all reach beyond loopback.
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_ip_notifier": False,
        "enable_dht": True,
        # Stock value is dht.libtorrent.org:25401 (a DNS name, then a public host): only 127.x literals here.
        # libtorrent treats these as routers: it queries them but never puts them in its routing table, so
        # sessions that only bootstrap from each other keep empty tables (measured); use add_dht_node instead.
        "dht_bootstrap_nodes": ",".join(endpoint(loopback(b["host"]), b["port"]) for b in bootstrap),
        # Stock: at most one routing-table entry per /24 and one search result per IP, which would collapse a
        # 127.x swarm to a node or two.
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        # Stock values, set explicitly because each could plausibly reject 127.x nodes and does not:
        # - dht_ignore_dark_internet drops packets from a fixed list of class-A nets (3, 6, 7, ...); 127 is not on it.
        # - dht_enforce_node_id / dht_prefer_verified_node_ids check BEP 42 ids, but verify_id() accepts any id
        #   from a "local" address, and libtorrent counts 127/8 as local.
        "dht_ignore_dark_internet": True,
        "dht_enforce_node_id": False,
        "dht_prefer_verified_node_ids": True,
        # A crawler test connects many times from one address.
        "allow_multiple_connections_per_ip": True,
        # Otherwise torrents beyond 5 are queued and never announce (announce() may add one torrent per hash).
        "active_downloads": -1,
        "active_seeds": -1,
        "active_limit": -1,
        "active_dht_limit": -1,
        # Stock 900 s; re-announces within a test's lifetime.
        "dht_announce_interval": 120,
        # Stock DHT limits, overridable from TS. dht_block_ratelimit 5: an IP that sends 50 packets within 10 s is
        # ignored for dht_block_timeout (300 s). dht_upload_rate_limit: 8000 B/s of replies. A served BEP 51
        # sample stays fixed for dht_sample_infohashes_interval (6 hours).
        "dht_block_ratelimit": 5,
        "dht_upload_rate_limit": 8000,
        "dht_sample_infohashes_interval": 21600,
        "alert_mask": int(cat.dht_notification | cat.dht_operation_notification | cat.error_notification
                          | cat.status_notification),
        "alert_queue_size": 10000,
    }
    settings.update(overrides)
    return settings


def ip_filter():
    # Peer connections can never leave loopback, whatever a DHT reply says.
    f = lt.ip_filter()
    f.add_rule("0.0.0.0", "255.255.255.255", 1)
    f.add_rule("127.0.0.0", "127.255.255.255", 0)
    f.add_rule("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1)
    f.add_rule("::1", "::1", 0)
    return f
