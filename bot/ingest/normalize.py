"""Canonical URLs and content fingerprints: how the same story is recognised across sources.

Exact duplicates
    ``text_fingerprint`` is a BLAKE2b digest of ``normalize_text(text)`` (NFKC, case-folded,
    punctuation and whitespace folded to single spaces), so re-pasted or re-encoded copies of one
    text match exactly.

Near duplicates: MinHash over word 3-shingles, with LSH banding
    The normalised text is split into words; every run of three consecutive words is a shingle.
    Each word is hashed with CRC-32 (stable across processes and platforms, unlike ``hash()``);
    a shingle's 64-bit key combines its three word hashes and is scrambled with the SplitMix64
    finaliser. ``NUM_PERM`` = 128 hash functions h_k(x) = a_k * x + b_k (mod 2**64), a_k odd,
    (multiply-shift universal hashing; a_k, b_k derived from BLAKE2b so they never change) give the
    signature: slot k = the top 32 bits of min over shingles of h_k(x). For two texts with shingle
    sets A and B, P(slot k agrees) = J = |A ∩ B| / |A ∪ B| (the Jaccard overlap), so the share of
    equal slots (``storage.models.signature_similarity``) estimates J with standard deviation
    sqrt(J(1-J)/128): 0.027 at J = 0.9. Two texts are the same story when that estimate is at least
    ``storage.models.NEAR_DUPLICATE_MIN_SIMILARITY`` = 0.85.

    Memory is bounded whatever the text's length: words are hashed a segment of
    ``SEGMENT_CHARS`` at a time, and shingles are hashed ``SHINGLE_BLOCK`` (4,096) at a time into
    a running minimum, so the hash matrix never exceeds 4,096 x 128 x 8 bytes = 4 MB (hashing all
    shingles at once took 390 MB for 2 MB of text). The signature is the same either way.

    Finding candidates without comparing every pair: the 128 slots are cut into ``BANDS`` = 16
    bands of ``ROWS`` = 8 slots; each band is hashed to a signed 64-bit key, and texts sharing any
    band key are candidates (then checked with the full signature). Two texts of overlap s share
    at least one band with probability P(s) = 1 - (1 - s**8)**16:

        s      0.95     0.90     0.85     0.80    0.70    0.50    0.30
        P(s)   >0.9999  0.9995   0.9939   0.960   0.62    0.061   0.0011

    so a pair at the 0.85 threshold becomes a candidate with probability > 99%, pairs under 50%
    overlap rarely do (6% at exactly 0.5, 0.1% at 0.3; unrelated articles share almost no
    shingles). Fewer bands (8 x 8 of 64 slots) would only reach 92% at 0.85.

Canonical URLs
    ``canonical_url`` lower-cases scheme and host, converts IDN hosts to punycode, drops default
    ports, user info, fragments and tracking parameters (``utm_*``, ``fbclid``, ``gclid``...),
    sorts the remaining query parameters, normalises the trailing slash, and maps AMP variants
    (``/amp``, ``.amp``, ``?amp=1``, ``amp.`` hosts, AMP-cache URLs) to the main page.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import unicodedata
import zlib
from collections.abc import Iterator, Sequence
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import idna
import numpy as np
import numpy.typing as npt

from bot.ingest.model import InvalidURLError, ParsedArticle
from bot.ingest.sanitize import clean_name
from storage.models import (
    Classification,
    EntityMention,
    NewArticle,
)

NUM_PERM = 128
BANDS = 16
ROWS = 8
SHINGLE_WORDS = 3
#: Shingles hashed at once: the (SHINGLE_BLOCK x NUM_PERM) uint64 matrix is 4 MB.
SHINGLE_BLOCK = 4096
#: Characters of normalised text split into words at once.
SEGMENT_CHARS = 64 * 1024
assert BANDS * ROWS <= NUM_PERM

# --------------------------------------------------------------------------- text


_NON_WORD = re.compile(r"[\W_]+")
# Punctuation common in news text, replaced up front so most English text takes the ASCII path.
_COMMON_PUNCTUATION = "\u00a0\u2019\u2018\u201c\u201d\u2014\u2013\u00ab\u00bb\u2026\u2022"
_ASCII_FOLD = str.maketrans({chr(code): " " for code in range(128) if not chr(code).isalnum()})


def normalize_text(text: str) -> str:
    """NFKC, case-fold, and fold every run of punctuation/whitespace to one space."""
    # Same result as _NON_WORD.sub(" ", NFKC(text).casefold()).strip(), about 3x faster for the
    # usual English text: NFKC only when needed, a translate table for ASCII.
    for char in _COMMON_PUNCTUATION:
        if char in text:
            text = text.replace(char, " ")
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    folded = text.casefold()
    if folded.isascii():
        return " ".join(folded.translate(_ASCII_FOLD).split())
    return _NON_WORD.sub(" ", folded).strip()


def text_fingerprint(text: str) -> str:
    """Hex BLAKE2b-128 of the normalised text: equal for texts that differ only in form."""
    return hashlib.blake2b(normalize_text(text).encode(), digest_size=16).hexdigest()


def _stable_u64(label: str) -> int:
    return int.from_bytes(hashlib.blake2b(label.encode(), digest_size=8).digest(), "little")


# Permutation parameters: fixed forever, or stored signatures stop matching new ones.
_PERM_A = np.array([_stable_u64(f"attache-minhash-a-{k}") | 1 for k in range(NUM_PERM)], np.uint64)
_PERM_B = np.array([_stable_u64(f"attache-minhash-b-{k}") for k in range(NUM_PERM)], np.uint64)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_WORD_WEIGHT_1 = np.uint64(0x9E3779B97F4A7C15)
_WORD_WEIGHT_2 = np.uint64(0xC2B2AE3D27D4EB4F)
_EMPTY_SIGNATURE = np.full(NUM_PERM, 0xFFFFFFFF, np.uint32)


def _word_hashes(words: Sequence[str]) -> npt.NDArray[np.uint64]:
    return np.fromiter(
        (zlib.crc32(word.encode()) for word in words), dtype=np.uint64, count=len(words)
    )


def _mix(keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    # SplitMix64 finaliser: spreads the structured sum over all 64 bits.
    keys ^= keys >> np.uint64(30)
    keys *= _MIX_1
    keys ^= keys >> np.uint64(27)
    keys *= _MIX_2
    keys ^= keys >> np.uint64(31)
    return keys


def _iter_word_hash_blocks(normalized: str) -> Iterator[npt.NDArray[np.uint64]]:
    """The CRC-32 hashes of the words, a segment of about ``SEGMENT_CHARS`` characters at a time
    (cut at a space, so no word is split and the whole text is never held as a list of words)."""
    start = 0
    while start < len(normalized):
        end = normalized.find(" ", start + SEGMENT_CHARS)
        end = len(normalized) if end < 0 else end
        words = normalized[start:end].split()
        if words:
            yield _word_hashes(words)
        start = end + 1


def _iter_shingle_keys(normalized: str) -> Iterator[npt.NDArray[np.uint64]]:
    """64-bit keys of the word 3-shingles, at most ``SHINGLE_BLOCK`` at a time (one shingle of
    all words when there are fewer than three)."""
    carry = np.empty(0, np.uint64)  # the last two words of the segment before
    shingled = False
    for block in _iter_word_hash_blocks(normalized):
        hashes = np.concatenate((carry, block)) if len(carry) else block
        if len(hashes) < SHINGLE_WORDS:
            carry = hashes
            continue
        for first in range(0, len(hashes) - SHINGLE_WORDS + 1, SHINGLE_BLOCK):
            window = hashes[first : first + SHINGLE_BLOCK + SHINGLE_WORDS - 1]
            yield _mix(window[:-2] * _WORD_WEIGHT_1 + window[1:-1] * _WORD_WEIGHT_2 + window[2:])
        carry = hashes[-(SHINGLE_WORDS - 1) :]
        shingled = True
    if len(carry) and not shingled:
        yield _mix(np.array([np.bitwise_xor.reduce(carry * _WORD_WEIGHT_1)], np.uint64))


def _signature_slots(normalized: str) -> npt.NDArray[np.uint32]:
    # Per block of shingles a (block x NUM_PERM) matrix, folded into a running minimum: memory
    # stays at SHINGLE_BLOCK x NUM_PERM x 8 bytes (4 MB) however long the text is.
    minimum: npt.NDArray[np.uint64] | None = None
    for keys in _iter_shingle_keys(normalized):
        hashed = keys[:, None] * _PERM_A  # (shingles, NUM_PERM), wraps mod 2**64 by design
        hashed += _PERM_B
        block_minimum: npt.NDArray[np.uint64] = hashed.min(axis=0)
        if minimum is None:
            minimum = block_minimum
        else:
            np.minimum(minimum, block_minimum, out=minimum)
    if minimum is None:
        return _EMPTY_SIGNATURE
    return (minimum >> np.uint64(32)).astype(np.uint32)


def _band_keys(signature: bytes) -> tuple[int, ...]:
    width = ROWS * 4
    return tuple(
        int.from_bytes(
            hashlib.blake2b(
                signature[band * width : (band + 1) * width],
                digest_size=8,
                person=band.to_bytes(16, "little"),
            ).digest(),
            "little",
            signed=True,
        )
        for band in range(BANDS)
    )


def minhash_signature(text: str) -> tuple[bytes, tuple[int, ...]]:
    """The MinHash signature (``NUM_PERM`` little-endian uint32 slots) and its LSH band keys."""
    return _minhash_of_normalized(normalize_text(text))


def _minhash_of_normalized(normalized: str) -> tuple[bytes, tuple[int, ...]]:
    signature = _signature_slots(normalized).astype("<u4").tobytes()
    return signature, _band_keys(signature)


def fingerprint_and_signature(text: str) -> tuple[str, bytes, tuple[int, ...]]:
    """``text_fingerprint``, signature and band keys in one pass over the normalised text."""
    normalized = normalize_text(text)
    fingerprint = hashlib.blake2b(normalized.encode(), digest_size=16).hexdigest()
    signature, bands = _minhash_of_normalized(normalized)
    return fingerprint, signature, bands


# --------------------------------------------------------------------------- URLs

# Query parameters that say how a reader arrived, not what they read.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "yclid", "msclkid", "twclid", "ttclid",
        "li_fat_id", "mc_cid", "mc_eid", "igshid", "igsh", "_ga", "_gl", "_hsenc", "_hsmi",
        "mkt_tok", "ref", "ref_src", "ref_url", "referrer", "refsrc", "cmpid", "ocid", "smid",
        "smtyp", "spm", "sharesource", "at_medium", "at_campaign", "at_custom1",
        "__twitter_impression", "rss_id", "from_rss", "usqp",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "oly_")
_AMP_FLAG_VALUES = frozenset({"", "1", "true", "yes", "on"})
_AMP_CACHE_HOST = re.compile(r"(?:^|\.)cdn\.ampproject\.org$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")


def _is_tracking(name: str, value: str) -> bool:
    key = name.lower()
    if key == "amp":
        return value.lower() in _AMP_FLAG_VALUES
    if key in ("output", "outputtype"):
        return value.lower() == "amp"
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _normalize_escapes(part: str, safe: str) -> str:
    # Decode escapes of unreserved characters, upper-case the rest, escape what must be.
    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(0)[1:], 16))
        return char if char in _UNRESERVED else match.group(0).upper()

    return quote(_PERCENT.sub(fix, part), safe=safe + "%")


def _host_to_ascii(host: str) -> str:
    host = host.rstrip(".").lower()
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        return host.encode("idna").decode("ascii")


def _strip_amp_path(path: str) -> str:
    segments = path.split("/")
    # "/news/story/amp" and "/news/story/amp/" -> "/news/story"; a path that is only "/amp" stays.
    while len(segments) > 2 and segments[-1] in ("amp", "") and "amp" in segments[-2:]:
        segments = segments[:-1] if segments[-1] == "amp" else segments[:-2]
    # "/amp/news/story" -> "/news/story" (the AMP edition mirrored under /amp/)
    if len(segments) > 3 and segments[1] == "amp":
        segments = [segments[0], *segments[2:]]
    path = "/".join(segments) or "/"
    # "/story.amp" and "/story.amp.html" -> "/story", "/story.html"
    return re.sub(r"(?<=[^/])\.amp(?=\.html?$|$)", "", path)


def canonical_url(url: str) -> str:
    """The canonical form of a URL, for recognising the same page under different URLs.

    Raises ``InvalidURLError`` for anything that is not a usable web URL."""
    try:
        return _canonical_url(url)
    except UnicodeError:
        # A lone surrogate or a host IDNA refuses: not a URL any server could be asked for.
        raise InvalidURLError(
            f"not a usable URL: {url!r} (it has characters no URL may hold)"
        ) from None


def _canonical_url(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        host = parts.hostname
    except ValueError as exc:
        raise InvalidURLError(f"not a usable URL: {url!r} ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        raise InvalidURLError(f"not a web URL: {url!r}")
    host = _host_to_ascii(host)
    path = parts.path
    query = parts.query

    if _AMP_CACHE_HOST.search(host):
        # https://example-com.cdn.ampproject.org/c/s/example.com/story -> https://example.com/story
        match = re.match(r"^/[a-z]/(?P<secure>s/)?(?P<rest>.+)$", path)
        if match:
            inner = ("https://" if match["secure"] else "http://") + match["rest"]
            return _canonical_url(inner + (f"?{query}" if query else ""))

    labels = host.split(".")
    if labels[0] == "amp" and len(labels) >= 3:
        host = ".".join(labels[1:])

    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"

    path = _normalize_escapes(path, safe="/:@!$&'()*+,;=")
    if path:
        path = posixpath.normpath(path) if path not in ("/", "") else path
        path = "/" + path.lstrip("/")  # normpath keeps "//" at the start; one slash is enough
    path = _strip_amp_path(path or "/")
    if len(path) > 1:
        path = path.rstrip("/")

    params = [
        (name, value)
        for name, value in parse_qsl(query, keep_blank_values=True)
        if not _is_tracking(name, value)
    ]
    params.sort()
    query = urlencode(params, quote_via=quote, safe="/:@!$'()*+,;")
    return urlunsplit((scheme, netloc, path, query, ""))


def url_domain(url: str) -> str | None:
    """The host of a URL without a leading ``www.``, or ``None``."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


# --------------------------------------------------------------------------- NewArticle


def build_new_article(
    parsed: ParsedArticle,
    *,
    classification: Classification | None = None,
    entities: Sequence[EntityMention] = (),
    source: str | None = None,
) -> NewArticle:
    """The NewArticle to store: canonical URL, fingerprint, signature and bands computed.

    ``source`` (else the parsed source, the dateline agency, the attribution, the URL's domain)
    names where the article came from; "unknown" when nothing does. The parsed article's fields
    are clean already (``ParsedArticle`` cleans them when built); ``source`` is cleaned here.
    Raises ``InvalidURLError`` when the article's URL is not a usable web URL.
    """
    url = canonical_url(parsed.url) if parsed.url else None
    fingerprint, signature, bands = fingerprint_and_signature(parsed.text)
    return NewArticle(
        title=parsed.title,
        text=parsed.text,
        url=url,
        source=(
            (clean_name(source) if source else None)
            or parsed.source
            or parsed.agency
            or parsed.attribution
            or (url_domain(url) if url else None)
            or "unknown"
        ),
        fingerprint=fingerprint,
        signature=signature,
        bands=bands,
        published_at=parsed.published_at,
        lang=parsed.lang,
        dateline_place=parsed.dateline_place,
        agency=parsed.agency,
        attribution=parsed.attribution,
        guid=parsed.guid,
        classification=classification or Classification(),
        entities=tuple(entities),
    )
