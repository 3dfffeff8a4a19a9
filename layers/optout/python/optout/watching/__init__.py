"""The policy watch: a platform's policy or settings page watched, its changes found.

`sources` fetches what is watched (a page, or an Open Terms Archive version) safely: only public
addresses, only the same site, a size cap, timeouts, conditional requests. `extract` turns what
a source served (an HTML page, a version in Markdown) into text, one block a line, and that text
into sentences; `compare` finds the sentences added and removed between two versions, leaving
out what is not a change (whitespace, markup, order, rotating tokens, a "last updated" date
alone), and scores what is left; `terms` holds the words organisers watch for; `forward` tells
allies of a change, as a Standard Webhooks event signed with each one's secret; `watches` is
what organisers do to watches by hand (declare, list, show, pause, resume, delete). `extract`,
`compare` and `terms` are pure: no AWS, no network.
"""
