"""The API's English messages, read from the source: what no page of the web interface may show.

Every message a service raises (``raise NotFound("no company with id …")``) is cut into its fixed
pieces of three words or more; a page that contains one of them shows the API's English to a person.
Framework wording (FastAPI's and pydantic's) and Python's enum reprs are listed too.
"""

import ast
import re
from functools import cache
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
ERRORS = {"KoppelkansError", "NotFound", "Conflict", "Unauthorized", "Forbidden", "InvalidInput", "IndexNotReady",
          "TooManyRequests"}
FRAMEWORK = ("Field required", "Input should be", "Value error", "value is not a valid", "Not Found",
             "Method Not Allowed", "Internal Server Error", '{"detail"', "Traceback", "Unprocessable")
ENUM_REPR = re.compile(r"<[A-Z][A-Za-z]+\.[a-z_]+: '")


def _pieces(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [part.value for part in node.values if isinstance(part, ast.Constant) and isinstance(part.value, str)]
    if isinstance(node, ast.BinOp):
        return _pieces(node.left) + _pieces(node.right)
    return []


@cache
def api_messages() -> frozenset[str]:
    fragments: set[str] = set()
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            name = node.exc.func.id if isinstance(node.exc.func, ast.Name) else getattr(node.exc.func, "attr", "")
            if name not in ERRORS or not node.exc.args:
                continue
            for piece in _pieces(node.exc.args[0]):
                text = " ".join(re.sub(r"[^\w\s-]", " ", piece).split())
                if len(text.split()) >= 3:
                    fragments.add(text)
    return frozenset(fragments)


def english_in(html: str) -> list[str]:
    """The API's English found in a page (empty when the page speaks Dutch only)."""
    text = " ".join(re.sub(r"[^\w\s-]", " ", re.sub(r"<[^>]+>", " ", html)).split())
    found = [fragment for fragment in api_messages() if fragment in text]
    found += [marker for marker in FRAMEWORK if marker in html]
    found += ENUM_REPR.findall(html)
    return found
