#!/usr/bin/env bash
# Regenerate the sample workshop pack and the README's page images of each format.
# Needs a built store (`make corpus`), LibreOffice (soffice) and poppler-utils (pdftoppm), which
# are developer tools only: nothing at run time or in the tests depends on them.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=docs/workshop
py=.venv/bin/python
for fmt in docx pptx pdf html md csv; do
  HF_HUB_OFFLINE=1 $py -m pipelines workshop --focus chime/hope \
    --fields mental_health,substance_use,criminal_justice --items 24 --lived-experience \
    --out "$out/sample-pack.$fmt"
done
tmp=$(mktemp -d)
soffice --headless --convert-to pdf --outdir "$tmp/doc" "$out/sample-pack.docx" >/dev/null
pdftoppm -png -r 60 -f 1 -l 1 "$tmp/doc/sample-pack.pdf" "$tmp/docx"
pdftoppm -png -r 60 -f 1 -l 1 "$out/sample-pack.pdf" "$tmp/cards"
cp "$tmp"/docx*.png "$out/page-docx.png"
cp "$tmp"/cards*.png "$out/page-pdf-cards.png"
soffice --headless --convert-to pdf --outdir "$tmp/deck" "$out/sample-pack.pptx" >/dev/null
pdftoppm -png -r 50 -f 3 -l 3 "$tmp/deck/sample-pack.pdf" "$tmp/slide"
cp "$tmp"/slide*.png "$out/page-pptx.png"
$py - "$out" <<'PY'
import shutil, sys
from pathlib import Path
from playwright.sync_api import sync_playwright
out = Path(sys.argv[1]).resolve()
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 900, "height": 1100})
    page.goto((out / "sample-pack.html").as_uri())
    page.screenshot(path=str(out / "page-html-cards.png"))
    browser.close()
PY
rm -rf "$tmp"
ls -la "$out"
