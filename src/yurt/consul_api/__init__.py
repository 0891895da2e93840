"""One client of Consul's HTTP API for every yurt component that talks to the catalog.

`client` is the async client (base URL, TLS, ACL token, timeouts and connection reuse set in
one place; typed errors); `sync` its face for the synchronous CLI; `registration` the one
self-registration loop and `watch` the one blocking-query loop, both on the one `backoff`
policy. It speaks only Consul's public API, so a real Consul serves as well as yurt's catalog.

Nothing is imported here: the pure parts (`backoff`, `watch.next_index`) load without aiohttp.
"""
