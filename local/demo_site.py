"""A page the local stack serves as if it were LinkedIn's help page about the generative-AI
setting, for the demo's policy watch: on 14 October 2025 (by the stack's clock) it gains the
sentences that make it a change worth telling, so that `make run` shows the watch at work.

The words are ours, written around the founding case's facts (../shared/CASE-LINKEDIN-2025.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

PATH = "/_local/demo/linkedin-generative-ai-help"
CHANGES_AT = datetime(2025, 10, 14, 6, 0, tzinfo=UTC)

_BEFORE = (
    "LinkedIn offers AI features that help you write posts and messages.",
    "You control how your data is used in Settings & Privacy.",
    "Private messages are never used to train AI models.",
)
_ADDED = (
    "From 3 November 2025, profile data, public posts, resumes and what you type into AI "
    "features are used to train content-generating AI models for members in the EU, the EEA, "
    "Switzerland, Canada and Hong Kong.",
    "The setting Data for Generative AI Improvement is on by default; to opt out, open "
    "Settings & Privacy, then Data Privacy, and switch it off.",
)


def help_page(now: datetime) -> str:
    """The page as it reads at `now` on the stack's clock."""
    sentences = _BEFORE + (_ADDED if now >= CHANGES_AT else ())
    paragraphs = "\n".join(f"    <p>{escape(sentence)}</p>" for sentence in sentences)
    updated = "14 October 2025" if now >= CHANGES_AT else "2 September 2025"
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Generative AI and your data (demo)</title></head>
<body>
  <nav><a href="/">Help home</a> <a href="/privacy">Privacy</a></nav>
  <main>
    <h1>Generative AI and your data</h1>
{paragraphs}
    <p>Last updated: {updated}</p>
  </main>
  <footer>A demo page served by the optout-bot local stack.</footer>
</body>
</html>
"""
