"""Signing with a My Number Card: sessions, the bridge's socket, status feeds, checks, embedding.

Everything a party's card signature passes through lives here:

- `sessions`: the card session's state machine (start, claim, progress, judge, expire);
- `status`: the session's status as one model, shared by the API, the feeds, the hub and
  the pages;
- `bridge_socket`: the websocket the bridge (`jpki-bridge`, the companion app) speaks;
- `api` and `pages`: the sender's JSON API and the party's pages for a card session;
- `hub` and `hub_postgres`: status changes told to watching pages, in one process or
  across instances (PostgreSQL LISTEN/NOTIFY); `feed` turns them into server-sent events;
- `validation`: the JPKI checks on the card's CMS and certificate;
- `embedding`: the prepared PDF revision with room for the signature, and the CMS written in.
"""
