"""Watchlists and alerts: what an account watches, which change records concern it, and the
deliveries (same-day emails, webhooks, weekly digests) with their log; Atom feeds.
See docs/alerts.md."""
