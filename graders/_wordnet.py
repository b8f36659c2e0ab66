"""WordNet 3.0 for METEOR, found offline: nltk's data directory or Debian's ``wordnet-base``.

nltk's own loader only looks in nltk data directories (filled by ``nltk.download``, which needs
the internet). Debian's ``wordnet-base`` package installs the same WordNet 3.0 database in
``/usr/share/wordnet`` but without the ``lexnames`` file (a fixed table of the 45 lexicographer
files, documented in lexnames(5WN)), so the reader here supplies that table itself.
"""

from __future__ import annotations

import functools
import io
import os
import warnings
from pathlib import Path
from typing import Any

from graders._errors import SpecError

# WordNet's own variable for its database directory, then Debian's location of it.
ENV_VAR = "WNSEARCHDIR"
SYSTEM_DIRS = ("/usr/share/wordnet",)
INSTALL_HINT = (
    "; install WordNet 3.0: `apt-get install wordnet-base` (Debian/Ubuntu), or "
    "`python -m nltk.downloader wordnet` where the internet is reachable, or set WNSEARCHDIR "
    "to a WordNet 3.0 dict directory"
)

# lexnames(5WN): lexicographer file number -> name; the syntactic category follows the prefix.
_LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
LEXNAMES_TEXT = "".join(f"{i:02d}\t{name}\t{_CATEGORY[name.split('.')[0]]}\n" for i, name in enumerate(_LEXNAMES))


def candidate_dirs() -> list[Path]:
    """Dict directories outside nltk's data path that may hold WordNet 3.0, in search order."""
    return [Path(d) for d in SYSTEM_DIRS]


def find_root() -> Any:
    """Where WordNet 3.0 is: $WNSEARCHDIR, nltk's ``corpora/wordnet`` (directory or zip), Debian's dir; or None."""
    import nltk.data

    if os.environ.get(ENV_VAR):
        return _dict_dir(Path(os.environ[ENV_VAR]))
    try:
        return nltk.data.find("corpora/wordnet")
    except LookupError:
        pass
    for directory in candidate_dirs():
        found = _dict_dir(directory)
        if found is not None:
            return found
    return None


def _dict_dir(directory: Path) -> str | None:
    return str(directory) if (directory / "index.noun").is_file() and (directory / "data.noun").is_file() else None


@functools.cache
def _load(root: Any) -> Any:
    import nltk.data
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class _Reader(WordNetCorpusReader):
        def open(self, file: str) -> Any:
            if file == "lexnames" and isinstance(root, str) and not (Path(root) / "lexnames").is_file():
                return io.StringIO(LEXNAMES_TEXT)
            return super().open(file)

        def map_wn(self, version: str = "wordnet") -> None:
            return None  # this *is* WordNet 3.0; the mapping only serves multilingual data

    # nltk only reads corpora under its data path: authorise the directory we found.
    if isinstance(root, str) and root not in nltk.data.path:
        nltk.data.path.append(root)
    with warnings.catch_warnings():
        # "The multilingual functions are not available": expected, METEOR is English only.
        warnings.simplefilter("ignore")
        return _Reader(root, None)


def load_wordnet() -> Any:
    """Loads WordNet once per process (about a second) and returns nltk's reader for it.

    Raises:
        SpecError: no WordNet 3.0 database was found; the message says what to install.
    """
    root = find_root()
    if root is None:
        searched = ", ".join([f"${ENV_VAR}", "nltk's data path", *(str(d) for d in candidate_dirs())])
        raise SpecError(f"'meteor' needs WordNet 3.0, which was not found (searched {searched})", (), INSTALL_HINT)
    return _load(root)
