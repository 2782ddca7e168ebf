"""Small input files of every supported format, made on the fly with known contents."""

from __future__ import annotations

import json
from pathlib import Path

TEXTS = [
    "Recovery is a personal journey of hope, identity and finding meaning beyond the illness.",
    "Desistance is the process by which people stop offending and come to see themselves differently.",
    "Recovery capital is the sum of personal, social and community resources a person can draw on.",
]


def write_csv(folder: Path) -> Path:
    path = folder / "sample.csv"
    path.write_text(
        "id,text,field,evidence_type,kind,title,authors,year,extra_note\n"
        f'a1,"{TEXTS[0]}",mental_health,review,definition,Paper one,"Smith, A.",2011,keep me\n'
        f'a2,"{TEXTS[1]}",criminal_justice,peer_reviewed,process,Paper two,"Jones, B.",2004,\n'
        f'a3,"{TEXTS[2]}",substance_use,policy,definition,Paper three,"Lee, C.",2008,\n',
        encoding="utf-8",
    )
    return path


def write_tsv(folder: Path) -> Path:
    path = folder / "sample.tsv"
    lines = ["id\ttext\tfield"] + [f"t{i}\t{t}\tmental_health" for i, t in enumerate(TEXTS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(folder: Path) -> Path:
    path = folder / "sample.jsonl"
    rows = [
        {"id": f"j{i}", "text": t, "field": "substance_use", "year": 2010 + i}
        for i, t in enumerate(TEXTS)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def write_xlsx(folder: Path) -> Path:
    import openpyxl

    path = folder / "sample.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "text", "field", "year"])
    for i, t in enumerate(TEXTS):
        sheet.append([f"x{i}", t, "homelessness", 2015])
    book.save(path)
    return path


def write_txt(folder: Path) -> Path:
    path = folder / "sample.txt"
    path.write_text(
        "---\ntitle: Notes on recovery\nauthors: [Smith, A.]\nyear: 2020\nfield: mental_health\n---\n"
        + "\n\n".join(TEXTS)
        + "\n",
        encoding="utf-8",
    )
    return path


def write_md(folder: Path) -> Path:
    path = folder / "sample.md"
    path.write_text(
        f"# Review\n\n## Definitions\n\n{TEXTS[0]}\n\n{TEXTS[1]}\n\n## Resources\n\n{TEXTS[2]}\n",
        encoding="utf-8",
    )
    return path


def write_pdf(folder: Path, texts: list[str] | None = None) -> Path:
    from fpdf import FPDF

    path = folder / "sample.pdf"
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for text in texts or TEXTS:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    pdf.output(str(path))
    return path


def write_docx(folder: Path) -> Path:
    import docx

    path = folder / "sample.docx"
    document = docx.Document()
    document.add_heading("Recovery across fields", level=1)
    document.add_heading("Mental health", level=2)
    document.add_paragraph(TEXTS[0])
    document.add_heading("Criminal justice", level=2)
    document.add_paragraph(TEXTS[1])
    document.add_paragraph(TEXTS[2])
    document.save(path)
    return path


def write_bibtex(folder: Path) -> Path:
    path = folder / "sample.bib"
    entries = []
    for i, t in enumerate(TEXTS):
        entries.append(
            f"@article{{key{i},\n  title = {{Paper {i}}},\n  author = {{Smith, Ann and Jones, Bob}},\n"
            f"  year = {{201{i}}},\n  journal = {{Journal of Tests}},\n  doi = {{10.1000/test.{i}}},\n  abstract = {{{t}}}\n}}\n"
        )
    path.write_text("\n".join(entries), encoding="utf-8")
    return path


def write_ris(folder: Path) -> Path:
    path = folder / "sample.ris"
    records = []
    for i, t in enumerate(TEXTS):
        records.append(
            f"TY  - JOUR\nID  - r{i}\nTI  - Paper {i}\nAU  - Smith, Ann\nAU  - Jones, Bob\nPY  - 201{i}\n"
            f"JO  - Journal of Tests\nDO  - 10.1000/ris.{i}\nAB  - {t}\nER  - \n"
        )
    path.write_text("\n".join(records), encoding="utf-8")
    return path


def write_wos(folder: Path) -> Path:
    path = folder / "sample.ciw"
    lines = ["FN Clarivate Analytics Web of Science", "VR 1.0"]
    for i, t in enumerate(TEXTS):
        lines += [
            "PT J",
            "AU Smith, A",
            "   Jones, B",
            "AF Smith, Ann",
            "   Jones, Bob",
            f"TI Paper {i}",
            "SO JOURNAL OF TESTS",
            f"PY 201{i}",
            f"DI 10.1000/wos.{i}",
            f"AB {t}",
            f"UT WOS:00000000000{i}",
            "ER",
            "",
        ]
    path.write_text("\n".join([*lines, "EF", ""]), encoding="utf-8")
    return path


def write_parquet(folder: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / "sample.parquet"
    table = pa.table(
        {
            "id": [f"p{i}" for i in range(len(TEXTS))],
            "text": TEXTS,
            "field": ["mental_health", "criminal_justice", "substance_use"],
            "year": [2011, 2004, 2008],
        }
    )
    pq.write_table(table, path)
    return path


# reader name -> (writer, expected number of excerpts, whether the file carries its own fields)
SAMPLES = {
    "csv": (write_csv, 3, True),
    "tsv": (write_tsv, 3, True),
    "jsonl": (write_jsonl, 3, True),
    "xlsx": (write_xlsx, 3, True),
    "text": (write_txt, 3, True),
    "pdf": (write_pdf, 3, False),
    "docx": (write_docx, 3, False),
    "bibtex": (write_bibtex, 3, False),
    "ris": (write_ris, 3, False),
    "wos": (write_wos, 3, False),
    "parquet": (write_parquet, 3, True),
}
