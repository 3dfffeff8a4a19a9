"""The policy watch: a platform's policy or settings page watched, its changes found.

`extract` turns what a source served (an HTML page, an Open Terms Archive version in Markdown)
into text, one block a line, and that text into sentences; `compare` finds the sentences added
and removed between two versions, leaving out what is not a change (whitespace, markup, order,
rotating tokens, a "last updated" date alone), and scores what is left; `terms` holds the words
organisers watch for. All three are pure: no AWS, no network (the fetcher and the store call
them).
"""
