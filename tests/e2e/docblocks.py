"""docblocks.py -- the fenced code blocks of a Markdown file, so tests run the docs as written."""
import os
import re

SOURCE_DIR = os.environ.get("HOOKD_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


def blocks(relpath, lang):
    """Every ```<lang> block of the file (path relative to the source tree), in order."""
    with open(os.path.join(SOURCE_DIR, relpath)) as f:
        text = f.read()
    return [m.group(1) for m in re.finditer(r"^```%s\n(.*?)^```$" % re.escape(lang), text, re.M | re.S)]
