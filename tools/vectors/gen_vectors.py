#!/usr/bin/env python3
"""Generates Whipround's protocol test vectors from docs/PROTOCOL.md.

An independent implementation: the canonical CBOR encoder, the envelope, ids, signatures, printable keys,
the bundle file and the state digest are written from the document, not translated from the Swift code.
Ed25519 comes from PyNaCl (libsodium), BLAKE2b from hashlib.

    pip install -r requirements-dev.txt
    python3 tools/vectors/gen_vectors.py            # writes Tests/WhipCoreTests/Vectors/events.json
    python3 tools/vectors/gen_vectors.py --check    # fails if the committed file differs

Everything is deterministic (fixed seeds and timestamps; Ed25519 signing is deterministic), so running it
twice gives the same file.
"""

import argparse
import base64
import hashlib
import json
import os
import sys

from nacl.signing import SigningKey

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "Tests", "WhipCoreTests", "Vectors", "events.json")

MAX_EVENT_BYTES = 8192
MAX_UPDATE_TITLE_BYTES = 120  # update.posted (section 6.15)
MAX_UPDATE_TEXT_BYTES = 7000

# ---------------------------------------------------------------------------------------------------------
# Canonical CBOR (PROTOCOL.md section 2)


class Raw(bytes):
    """Bytes inserted verbatim into an encoding: used only to build invalid vectors."""


class RawMap:
    """A map encoded with its pairs in the given order, unsorted and possibly duplicated: invalid vectors only."""

    def __init__(self, pairs):
        self.pairs = pairs


def head(major, n):
    assert 0 <= n < 2**64
    m = major << 5
    if n < 24:
        return bytes([m | n])
    if n < 2**8:
        return bytes([m | 24]) + n.to_bytes(1, "big")
    if n < 2**16:
        return bytes([m | 25]) + n.to_bytes(2, "big")
    if n < 2**32:
        return bytes([m | 26]) + n.to_bytes(4, "big")
    return bytes([m | 27]) + n.to_bytes(8, "big")


def enc(v):
    """Canonical encoding of a Python value: int, bytes, str, list, dict (unsigned int keys), bool."""
    if isinstance(v, Raw):
        return bytes(v)
    if isinstance(v, bool):  # before int: bool is an int in Python
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, (bytes, bytearray)):
        return head(2, len(v)) + bytes(v)
    if isinstance(v, str):
        u = v.encode("utf-8")
        return head(3, len(u)) + u
    if isinstance(v, (list, tuple)):
        return head(4, len(v)) + b"".join(enc(x) for x in v)
    if isinstance(v, dict):
        keys = sorted(v)
        assert all(isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in keys)
        return head(5, len(keys)) + b"".join(head(0, k) + enc(v[k]) for k in keys)
    if isinstance(v, RawMap):
        return head(5, len(v.pairs)) + b"".join((k if isinstance(k, Raw) else head(0, k)) + enc(x) for k, x in v.pairs)
    raise TypeError(f"cannot encode {type(v)}")


def blake2b(data, size=32):
    return hashlib.blake2b(data, digest_size=size).digest()


# ---------------------------------------------------------------------------------------------------------
# Keys (section 3.4) and printable keys (section 9)


class Key:
    def __init__(self, name, label):
        self.name = name
        self.seed = bytes([label]) * 32
        self.sk = SigningKey(self.seed)
        self.pk = bytes(self.sk.verify_key)

    def sign(self, message):
        return self.sk.sign(message).signature


def printable(pk, prefix):
    check = blake2b(prefix.encode("ascii") + pk, 16)[:4]
    return prefix + base64.b32encode(pk + check).decode("ascii").lower().rstrip("=")


# ---------------------------------------------------------------------------------------------------------
# Events (section 3)

KIND_NAMES = {
    1: "community.created", 2: "role.granted", 3: "role.revoked",
    10: "campaign.created", 11: "campaign.updated", 12: "campaign.published", 13: "campaign.closed",
    14: "campaign.cancelled", 15: "update.posted", 20: "tier.added", 21: "tier.updated",
    30: "pledge.made", 31: "pledge.revised", 32: "pledge.withdrawn", 33: "pledge.collected", 34: "pledge.rejected",
    35: "pledge.made.v2", 36: "pledge.revised.v2", 37: "personal.erased",
    40: "match.offered", 41: "match.accepted", 42: "match.withdrawn", 43: "match.settled", 44: "funder.budget",
}
KIND_NAMES.update({50: "charity.recognised", 51: "giftaid.claimed", 52: "giftaid.confirmed", 53: "charity.withdrawn"})
COMMUNITY_LEVEL = {1, 2, 3, 44, 50, 53}

# Field names per kind, by key (section 6), for the human-readable body in the JSON.
FIELD_NAMES = {
    1: ["name", "founder"],
    2: ["member", "role", "expires"],
    3: ["member", "role"],
    10: ["title", "description", "goal", "currency", "model", "opens", "closes", "time_zone", "organisers"],
    11: ["campaign", "title", "description", "goal", "currency", "model", "opens", "closes", "time_zone", "organisers"],
    12: ["campaign"],
    13: ["campaign"],
    14: ["campaign", "reason"],
    15: ["campaign", "title", "text"],
    20: ["campaign", "title", "description", "minimum", "limit", "benefit"],
    21: ["campaign", "tier", "title", "description", "minimum", "limit", "benefit"],
    30: ["campaign", "backer_name", "anonymous", "amount", "currency", "tier", "channel", "paid", "contact"],
    31: ["campaign", "pledge", "amount", "currency", "tier", "backer_name", "anonymous"],
    32: ["campaign", "pledge"],
    33: ["campaign", "pledge", "amount", "currency", "method"],
    34: ["campaign", "pledge", "reason"],
    50: ["reference", "legal_name", "year_end_month", "year_end_day"],
    51: ["campaign", "tags"],
    52: ["campaign", "tag", "sent"],
    53: ["reason"],
    35: ["campaign", "amount", "currency", "tier", "channel", "paid", "commitments"],
    36: ["campaign", "pledge", "amount", "currency", "tier", "name"],
    37: ["campaign", "pledge", "reason", "slots"],
    40: ["campaign", "funder_name", "currency", "mode", "factor", "pledge_cap", "campaign_cap", "from", "until", "tier", "channel",
         "min_percent", "min_backers"],
    41: ["campaign", "offer"],
    42: ["campaign", "offer"],
    43: ["campaign", "offer", "page", "pages", "entries", "lump_sum"],
    44: ["currency", "budget"],
}


def payload_bytes(community, author_pk, kind, wall, counter, body, version=1):
    return enc({0: version, 1: community, 2: author_pk, 3: kind, 4: wall, 5: counter, 6: body})


def wire_bytes(payload, signature):
    return enc([payload, signature])


def jsonable(v):
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    return v


def describe(kind, body):
    names = FIELD_NAMES[kind]
    out = {}
    for k in sorted(body):
        v = body[k]
        if kind == 30 and k == 8:
            out[names[k]] = [{"recipient": r.hex(), "ciphertext": c.hex()} for r, c in v]
        elif kind == 37 and k == 3:
            out[names[k]] = [PART_SLOTS[s] for s in v]
        else:
            out[names[k]] = jsonable(v)
    return out


class Event:
    def __init__(self, name, community, author, kind, wall, counter, body):
        self.name = name
        self.community = community
        self.author = author
        self.kind = kind
        self.wall = wall
        self.counter = counter
        self.body = body
        self.payload = payload_bytes(community, author.pk, kind, wall, counter, body)
        self.id = blake2b(self.payload)
        self.signature = author.sign(self.payload)
        self.wire = wire_bytes(self.payload, self.signature)
        assert len(self.wire) <= MAX_EVENT_BYTES, (name, len(self.wire))

    def order_key(self):
        return (self.wall, self.counter, self.author.pk, self.id)

    def to_json(self):
        return {
            "name": self.name,
            "kind": self.kind,
            "kind_name": KIND_NAMES[self.kind],
            "author": self.author.name,
            "author_public": self.author.pk.hex(),
            "community": self.community.hex(),
            "hlc": {"wall": self.wall, "counter": self.counter},
            "body": describe(self.kind, self.body),
            "payload": self.payload.hex(),
            "wire": self.wire.hex(),
            "wire_length": len(self.wire),
            "id": self.id.hex(),
            "signature": self.signature.hex(),
        }


# ---------------------------------------------------------------------------------------------------------
# The scenario: one community, a campaign that goes through every kind, and a second one that is cancelled.

T0 = 1_798_761_600_000  # 2027-01-01T00:00:00Z
CLOSES = 1_893_456_000_000  # 2030-01-01T00:00:00Z

community = Key("community", 0x01)
founder = Key("founder", 0x02)
organiser = Key("organiser", 0x03)
collector = Key("collector", 0x04)
temp = Key("temporary collector", 0x05)
funder = Key("funder", 0x07)
recipients = [Key(f"recipient {i}", 0x10 + i) for i in range(8)]
KEYS = [community, founder, organiser, collector, temp, funder] + recipients

C = community.pk
events = []


def add(name, author, kind, wall, counter, body):
    e = Event(name, C, author, kind, wall, counter, body)
    events.append(e)
    return e


genesis = add("community.created", community, 1, T0, 0, {0: "Elm Street", 1: founder.pk})
add("role.granted organiser", founder, 2, T0 + 1000, 0, {0: organiser.pk, 1: 2})
add("role.granted collector with expiry", founder, 2, T0 + 1000, 1, {0: collector.pk, 1: 3, 2: CLOSES})
add("role.granted temporary collector", founder, 2, T0 + 1000, 2, {0: temp.pk, 1: 3})
add("role.granted funder", founder, 2, T0 + 1000, 3, {0: funder.pk, 1: 4})
# The funder states its budget (section 6.44): shown beside its reservations, never enforced by the rules.
add("funder.budget", funder, 44, T0 + 1000, 4, {0: "GBP", 1: 50_000})
lido = add(
    "campaign.created lido", organiser, 10, T0 + 2000, 0,
    {
        0: "Reopen the lido",
        1: "Fix the roof and reopen the pool.\nEvery penny counts.",
        2: 500_000,
        3: "GBP",
        4: 1,
        5: T0,
        6: CLOSES,
        7: "Europe/London",
        8: [founder.pk],
    },
)
# The goal, 200.00, is reached only with the match (181.00 from the crowd + 30.20 matched, section 7.7): an
# all-or-nothing campaign short of it at the close would pay no match.
add("campaign.updated", organiser, 11, T0 + 2000, 1, {0: lido.id, 1: "Reopen the Elm Street lido", 3: 20_000})
tier = add(
    "tier.added", organiser, 20, T0 + 3000, 0,
    {0: lido.id, 1: "Lido T-shirt", 2: "Organic cotton, one size", 3: 2000, 4: 1},
)
add("tier.updated", organiser, 21, T0 + 3000, 1, {0: lido.id, 1: tier.id, 2: "Lido T-shirt (organic)", 4: 1500})
add("campaign.published", organiser, 12, T0 + 4000, 0, {0: lido.id})
# Match funding (section 7.7): half of each pledge up to 30.00 per pledge and 30.20 in all, once the crowd
# counts 2 backers; and a lump sum of 100.00 if the crowd reaches 1% of the goal, withdrawn before the close.
offer = add(
    "match.offered", funder, 40, T0 + 4000, 1,
    {0: lido.id, 1: "Elm Council", 2: "GBP", 3: 1, 4: [1, 2], 5: 3000, 6: 3020, 12: 2},
)
lump = add("match.offered lump sum", funder, 40, T0 + 4000, 2, {0: lido.id, 1: "Oak Trust", 2: "GBP", 3: 2, 6: 10_000, 11: 1})
add("match.accepted", organiser, 41, T0 + 4000, 3, {0: lido.id, 1: offer.id})
add("match.accepted lump sum", organiser, 41, T0 + 4000, 4, {0: lido.id, 1: lump.id})
bob = add(
    "pledge.made paid in cash, wins the tier", collector, 30, T0 + 5000, 0,
    {0: lido.id, 1: "Bob", 2: False, 3: 2500, 4: "GBP", 5: tier.id, 6: 1, 7: 1},
)
# Sealed boxes are randomised, so the ciphertexts here are fixed opaque bytes of a plausible size
# (a sealed box is 48 bytes longer than its plaintext).
contact = sorted([(organiser.pk, bytes(range(0x30, 0x30 + 80))), (founder.pk, bytes([0x5A]) * 72)])
zoe = add(
    "pledge.made with sealed contact, waitlisted", collector, 30, T0 + 5000, 1,
    {0: lido.id, 1: "Zoë Ó Briain", 2: True, 3: 10_000, 4: "GBP", 5: tier.id, 6: 2, 8: contact},
)
add("pledge.revised", collector, 31, T0 + 6000, 0, {0: lido.id, 1: zoe.id, 2: 12_000, 3: "GBP", 5: "Zoë Ó Briain-Smith"})
# Same timestamp as the revision: the author key decides the order.
dan = add("pledge.made by a collector revoked later", temp, 30, T0 + 6000, 0, {0: lido.id, 1: "Dan", 2: False, 3: 200, 4: "GBP", 6: 1})
add("role.revoked", founder, 3, T0 + 7000, 0, {0: temp.pk, 1: 3})
eve = add("pledge.made then withdrawn", collector, 30, T0 + 7000, 1, {0: lido.id, 1: "Eve", 2: False, 3: 2500, 4: "GBP", 6: 1})
add("pledge.withdrawn", collector, 32, T0 + 8000, 0, {0: lido.id, 1: eve.id})
add("pledge.collected", collector, 33, T0 + 8000, 1, {0: lido.id, 1: zoe.id, 2: 12_000, 3: "GBP", 4: 2})
# A second collection of the same pledge: part payments add up (here past the pledged amount), and the
# first collection keeps naming who collected and how.
add("pledge.collected again, adding up", organiser, 33, T0 + 8000, 2, {0: lido.id, 1: zoe.id, 2: 500, 3: "GBP", 4: 1})
add("pledge.rejected", organiser, 34, T0 + 9000, 0, {0: lido.id, 1: dan.id, 2: "Duplicate of a pledge taken online"})
# News for the backers (section 6.15, protocol version 3): a title and Markdown text, by an organiser of the live campaign.
add(
    "update.posted", organiser, 15, T0 + 9000, 1,
    {0: lido.id, 1: "The roof is fixed", 2: "The roofers finished on **Saturday**.\n\n- new tiles\n- [photos](https://example.org/lido)\n"},
)


def max_size_pledge(extra):
    """A pledge whose wire form is exactly 8192 + extra bytes (contacts to 8 recipients, 7 of 1000 bytes)."""
    rs = sorted(r.pk for r in recipients)

    def build(last_len):
        cs = [(r, bytes([0xC0 + i]) * (1000 if i < 7 else last_len)) for i, r in enumerate(rs)]
        body = {0: lido.id, 1: "Max Size", 2: False, 3: 100, 4: "GBP", 6: 1, 8: cs}
        p = payload_bytes(C, collector.pk, 30, T0 + 9000, 1, body)
        return body, len(wire_bytes(p, bytes(64)))

    body, n = build(500)
    last = 500 + (MAX_EVENT_BYTES + extra - n)
    body, n = build(last)
    assert n == MAX_EVENT_BYTES + extra and 256 <= last <= 1024, (n, last)
    return body



max_pledge = add("pledge.made of exactly 8192 bytes", collector, 30, T0 + 9000, 1, max_size_pledge(0))
add("match.withdrawn", funder, 42, T0 + 9000, 2, {0: lido.id, 1: lump.id})

# Version-2 pledges (section 6.4): the signed event holds one commitment per personal part,
# BLAKE2b-256(salt || part); the parts travel beside it. Salts are fixed here (random in real use).
PART_SLOTS = {0: "name", 1: "contact", 2: "gift-aid"}
parts = []


def commit(salt, part):
    return blake2b(salt + part)


def part_record(event_id, slot, salt, data):
    return enc([event_id, slot, salt, data])


# A sealed part: [[recipient, box]...] sorted by recipient; each box seals a plaintext padded to 256 bytes,
# so is 256 + 48 = 304 bytes (opaque fixed bytes here: sealed boxes are randomised).
ann_name = "Ann Ng".encode("utf-8")
ann_contact = enc(sorted([[organiser.pk, bytes([0x6F]) * 304], [founder.pk, bytes([0x66]) * 304]]))
ann_salts = [bytes([0xA0 + i]) * 32 for i in range(3)]
# No Gift Aid declaration: a dummy commitment over the empty string (its salt is thrown away in real use).
ann_commitments = [commit(ann_salts[0], ann_name), commit(ann_salts[1], ann_contact), commit(ann_salts[2], b"")]
ann = add(
    "pledge.made.v2 with a name and sealed contact", collector, 35, T0 + 9500, 0,
    {0: lido.id, 1: 3000, 2: "GBP", 4: 2, 6: ann_commitments},
)
renamed_salt = bytes([0xB0]) * 32
renamed = "Ann Ng-Walsh".encode("utf-8")
ann_rev = add(
    "pledge.revised.v2 with a new name", collector, 36, T0 + 9600, 0,
    {0: lido.id, 1: ann.id, 2: 3500, 3: "GBP", 5: commit(renamed_salt, renamed)},
)
for ev, slot, salt, data in [(ann, 0, ann_salts[0], ann_name), (ann, 1, ann_salts[1], ann_contact), (ann_rev, 0, renamed_salt, renamed)]:
    parts.append({
        "event": ev.name, "event_id": ev.id.hex(), "slot": slot, "slot_name": PART_SLOTS[slot], "salt": salt.hex(),
        "bytes": data.hex(), "commitment": commit(salt, data).hex(), "record": part_record(ev.id, slot, salt, data).hex(),
        "erased": slot in (0, 1),
    })
add("campaign.closed", organiser, 13, T0 + 10_000, 0, {0: lido.id})
# Erasure works after the close: the name (of the pledge and of its revision) and the contact go.
add("personal.erased", organiser, 37, T0 + 10_500, 0, {0: lido.id, 1: ann.id, 2: 0, 3: [0, 1]})
fete = add(
    "campaign.created fete", founder, 10, T0 + 10_000, 1,
    {0: "Summer fete", 1: "", 2: 100_000, 3: "EUR", 4: 2, 5: T0, 6: T0 + 30 * 86_400_000, 7: "Europe/Dublin", 8: []},
)
add("campaign.cancelled", founder, 14, T0 + 11_000, 0, {0: fete.id, 1: "Merged into the lido campaign"})
# The funder freezes its allocation after the close: Bob's pledge came before the crowd threshold, Zoë's is
# capped per pledge, and the 8192-byte pledge gets what is left of the campaign cap.
add(
    "match.settled", funder, 43, T0 + 11_000, 1,
    {0: lido.id, 1: offer.id, 2: 0, 3: 1, 4: sorted([[bob.id, 0], [zoe.id, 3000], [max_pledge.id, 20], [ann.id, 0]])},
)

# Gift Aid (section 6.17-6.18): the community is a recognised charity with a treasurer; a keep-what-you-raise
# campaign with a reward worth £5 closes funded and the treasurer claims its two collected pledges.
treasurer = Key("treasurer", 0x06)
KEYS.append(treasurer)
add("charity.recognised", founder, 50, T0 + 12_000, 0, {0: "AB12345", 1: "Elm Street Trust", 2: 3, 3: 31})
add("role.granted treasurer", founder, 2, T0 + 12_000, 1, {0: treasurer.pk, 1: 5})
hall = add(
    "campaign.created hall", organiser, 10, T0 + 13_000, 0,
    {0: "Paint the church hall", 1: "", 2: 50_000, 3: "GBP", 4: 2, 5: T0, 6: CLOSES, 7: "Europe/London", 8: []},
)
mug = add("tier.added with a benefit value", organiser, 20, T0 + 13_000, 1, {0: hall.id, 1: "Hall mug", 3: 2_000, 5: 400})
add("tier.updated benefit", organiser, 21, T0 + 13_000, 2, {0: hall.id, 1: mug.id, 6: 500})
add("campaign.published hall", organiser, 12, T0 + 13_000, 3, {0: hall.id})
# Gift Aid needs version-2 pledges: the declaration is the slot-2 part, sealed to the treasurer. Every Gift Aid
# part's plaintext (a declaration, or "no declaration") is padded to the largest bucket, 768 bytes, so each box is
# 768 + 48 = 816 bytes (opaque fixed bytes here). Amy has a name part; Ben is anonymous (dummy name, no contact).
amy_gift = enc([[treasurer.pk, bytes([0x7A]) * 816]])
ben_gift = enc([[treasurer.pk, bytes([0x7B]) * 816]])
amy_salts = [bytes([0xC0 + i]) * 32 for i in range(3)]
ben_salts = [bytes([0xD0 + i]) * 32 for i in range(3)]
amy = add("pledge.made.v2 hall, with the mug and a Gift Aid declaration", collector, 35, T0 + 14_000, 0,
          {0: hall.id, 1: 2_500, 2: "GBP", 3: mug.id, 4: 1, 5: 1,
           6: [commit(amy_salts[0], b"Amy"), commit(amy_salts[1], b""), commit(amy_salts[2], amy_gift)]})
ben = add("pledge.made.v2 hall, anonymous, with a Gift Aid declaration", collector, 35, T0 + 14_000, 1,
          {0: hall.id, 1: 1_500, 2: "GBP", 4: 2,
           6: [commit(ben_salts[0], b""), commit(ben_salts[1], b""), commit(ben_salts[2], ben_gift)]})
for ev, slot, salt, data in [(amy, 0, amy_salts[0], b"Amy"), (amy, 2, amy_salts[2], amy_gift), (ben, 2, ben_salts[2], ben_gift)]:
    parts.append({
        "event": ev.name, "event_id": ev.id.hex(), "slot": slot, "slot_name": PART_SLOTS[slot], "salt": salt.hex(),
        "bytes": data.hex(), "commitment": commit(salt, data).hex(), "record": part_record(ev.id, slot, salt, data).hex(),
        "erased": False,
    })


# A donation's claim tag (section 6.51): BLAKE2b-256 keyed with the declaration's claim key (key 10) over a fixed
# context string. Only who can open the declaration (the treasurers) knows the key, so only they can link a tag to
# its pledge.
def claim_tag(key):
    return hashlib.blake2b(b"whipround/2 giftaid tag", digest_size=32, key=key).digest()


amy_key = bytes([0xE1]) * 32
ben_key = bytes([0xE2]) * 32
amy_tag, ben_tag = claim_tag(amy_key), claim_tag(ben_key)
# The plaintext a declaration part seals (section 6.52), before padding: Amy's.
declaration_fields = {0: "Mrs", 1: "Amy", 2: "Oak-Smith", 3: "12", 4: "S19 2BD", 5: 1, 6: "2027-01-01", 7: 1, 8: True, 9: "2027-01-02",
                      10: amy_key}
no_declaration_key = bytes([0xE3]) * 32
gift_aid_declaration = {
    "fields": {n: (v.hex() if isinstance(v, bytes) else v) for n, v in zip(
        ["title", "first_name", "last_name", "house", "postcode", "scope", "date", "wording_version", "oral", "confirmation_sent",
         "claim_key"], [declaration_fields[k] for k in range(11)])},
    "plaintext": enc(declaration_fields).hex(),
    "tag": amy_tag.hex(),
    "no_declaration": {"claim_key": no_declaration_key.hex(), "plaintext": enc({10: no_declaration_key}).hex(),
                       "tag": claim_tag(no_declaration_key).hex()},
}
add("pledge.collected hall, contactless", collector, 33, T0 + 15_000, 0, {0: hall.id, 1: ben.id, 2: 1_500, 3: "GBP", 4: 3})
add("campaign.closed hall", organiser, 13, T0 + 16_000, 0, {0: hall.id})
# An update of a closed campaign, both fields at their limits: a title of 120 bytes (60 two-byte characters) and a
# text of exactly 7000 bytes (section 4).
UPDATE_TEXT = ("Thank you, neighbours! " * 305)[:6999] + "\n"
assert len("é" * 60) == 60 and len(("é" * 60).encode()) == MAX_UPDATE_TITLE_BYTES and len(UPDATE_TEXT.encode()) == MAX_UPDATE_TEXT_BYTES
hall_news = add("update.posted at its limits", organiser, 15, T0 + 16_000, 1, {0: hall.id, 1: "é" * 60, 2: UPDATE_TEXT})
# The largest update.posted possible: the limits, a wall of 8 bytes and a counter of 5, is 7325 bytes on the wire.
assert len(wire_bytes(payload_bytes(C, organiser.pk, 15, 2**64 - 1, 2**32 - 1, hall_news.body), bytes(64))) == 7325 <= MAX_EVENT_BYTES
# Amy's oral declaration's confirmation is recorded again after the pledge; then both donations are claimed by tag.
add("giftaid.confirmed", treasurer, 52, T0 + 16_500, 0, {0: hall.id, 1: amy_tag, 2: "2027-01-05"})
add("giftaid.claimed", treasurer, 51, T0 + 17_000, 0, {0: hall.id, 1: sorted([amy_tag, ben_tag])})
# Later the charity is removed from HMRC's register: nothing offers or claims Gift Aid after this (section 6.50).
add("charity.withdrawn", founder, 53, T0 + 18_000, 0, {0: "Removed from HMRC's register"})

# A failed all-or-nothing campaign (section 7.7): closed 10.00 + 10.00 matched short of its 1000.00 goal, so
# the offer is "failed", nothing is matched and the reservation is freed.
shed = add(
    "campaign.created shed", organiser, 10, T0 + 18_000, 0,
    {0: "Tool shed", 1: "", 2: 100_000, 3: "GBP", 4: 1, 5: T0, 6: CLOSES, 7: "Europe/London", 8: []},
)
add("campaign.published shed", organiser, 12, T0 + 18_000, 1, {0: shed.id})
shed_offer = add("match.offered shed", funder, 40, T0 + 18_000, 2, {0: shed.id, 1: "Elm Council", 2: "GBP", 3: 1, 4: [1, 1], 6: 5_000})
add("match.accepted shed", organiser, 41, T0 + 18_000, 3, {0: shed.id, 1: shed_offer.id})
add("pledge.made shed", collector, 30, T0 + 19_000, 0, {0: shed.id, 1: "Cy", 2: False, 3: 1_000, 4: "GBP", 6: 1})
add("campaign.closed shed", organiser, 13, T0 + 20_000, 0, {0: shed.id})

events.sort(key=Event.order_key)
assert {e.kind for e in events} == set(KIND_NAMES), "every kind must have a vector"

# ---------------------------------------------------------------------------------------------------------
# Invalid vectors


def signed(author, payload):
    return wire_bytes(payload, author.sign(payload))


def pay(kind, body, author=collector, wall=T0 + 20_000, counter=0, version=1, community_key=C, extra=None):
    m = {0: version, 1: community_key, 2: author.pk, 3: kind, 4: wall, 5: counter, 6: body}
    if extra:
        m.update(extra)
    return enc(m)


def pledge_body(**over):
    b = {0: lido.id, 1: "Bob", 2: False, 3: 2500, 4: "GBP", 6: 1}
    for k, v in over.items():
        key = int(k[1:])
        if v is None:
            b.pop(key, None)
        else:
            b[key] = v
    return b


def campaign_body(**over):
    b = dict(lido.body)
    for k, v in over.items():
        b[int(k[1:])] = v
    return b


invalid = []


def bad(name, description, wire, error):
    invalid.append({"name": name, "description": description, "wire": wire.hex(), "error": error})


def flip(data, byte, bit=0):
    d = bytearray(data)
    d[byte] ^= 1 << bit
    return bytes(d)


ok = signed(collector, pay(30, pledge_body()))

# Canonical form
p = pay(30, pledge_body())
assert p[:3] == bytes([0xA7, 0x00, 0x01])
bad("non-shortest head", "version 1 written as 18 01 instead of 01", signed(collector, p[:2] + b"\x18\x01" + p[3:]), "decode.non_canonical")
bad(
    "non-shortest amount", "amount 2500 written with a 4-byte argument (1a 00 00 09 c4)",
    signed(collector, pay(30, pledge_body(k3=Raw(b"\x1a\x00\x00\x09\xc4")))), "decode.non_canonical",
)
bad(
    "non-shortest length", "the payload byte string's length written with 8 bytes",
    b"\x82" + b"\x5b" + len(p).to_bytes(8, "big") + p + enc(collector.sign(p)), "decode.non_canonical",
)
bad(
    "unsorted map keys", "body of pledge.withdrawn with keys 1, 0",
    signed(collector, pay(32, RawMap([(1, eve.id), (0, lido.id)]))), "decode.key_order",
)
bad(
    "duplicate map key", "body of pledge.withdrawn with keys 0, 0, 1",
    signed(collector, pay(32, RawMap([(0, lido.id), (0, lido.id), (1, eve.id)]))), "decode.key_order",
)
bad(
    "text map key", "body map key is the text \"campaign\"",
    signed(collector, pay(12, RawMap([(Raw(enc("campaign")), lido.id)]))), "decode.bad_key",
)
bad("trailing bytes", "one 00 byte after the wire array", ok + b"\x00", "decode.trailing_bytes")
bad("trailing bytes in payload", "one 00 byte after the payload map, inside the payload byte string", signed(collector, p + b"\x00"), "decode.trailing_bytes")
bad("truncated", "the last byte of the signature is missing", ok[:-1], "decode.truncated")
bad(
    "indefinite length", "body map encoded with indefinite length (bf ... ff)",
    signed(collector, pay(12, Raw(b"\xbf" + enc(0) + enc(lido.id) + b"\xff"))), "decode.indefinite",
)
bad(
    "reserved additional information", "amount is the byte 1c",
    signed(collector, pay(30, pledge_body(k3=Raw(b"\x1c")))), "decode.reserved",
)
bad(
    "float", "amount is the double 2500.0 (fb 40 a3 88 00 00 00 00 00)",
    signed(collector, pay(30, pledge_body(k3=Raw(b"\xfb\x40\xa3\x88\x00\x00\x00\x00\x00")))), "decode.unsupported",
)
bad(
    "null", "optional tier given as null (f6) instead of being absent",
    signed(collector, pay(30, pledge_body(k5=Raw(b"\xf6")))), "decode.unsupported",
)
bad(
    "tag", "wall wrapped in tag 1 (epoch time)",
    signed(collector, pay(30, pledge_body(), wall=Raw(b"\xc1" + enc(1_798_761_620)))), "decode.unsupported",
)
bad(
    "too deep", "a contact recipient nested as [[0]]",
    signed(collector, pay(30, pledge_body(k8=[[[[0]], b"\x00" * 48]]))), "decode.too_deep",
)
bad("too deep wire", "the payload replaced by the array [0]", enc([[0], bytes(64)]), "decode.too_deep")

# UTF-8
for what, raw in [("an ff byte", b"Bob \xff"), ("a surrogate (ed a0 80)", b"Bob \xed\xa0\x80"), ("an overlong '/' (c0 af)", b"Bob \xc0\xaf")]:
    bad(
        f"bad UTF-8: {what}", f"backer name contains {what}",
        signed(collector, pay(30, pledge_body(k1=Raw(bytes([0x60 + len(raw)]) + raw)))), "decode.bad_utf8",
    )

# Envelope
bad("unknown version", "version 2", signed(collector, pay(30, pledge_body(), version=2)), "decode.unknown_version")
bad("unknown kind", "kind 99 with an empty body", signed(collector, pay(99, {})), "decode.unknown_kind")
bad("missing envelope field", "payload without key 5 (counter)", signed(collector, enc({0: 1, 1: C, 2: collector.pk, 3: 32, 4: T0, 6: {0: lido.id, 1: eve.id}})), "decode.missing_field")
bad("unknown envelope field", "payload with an extra key 7", signed(collector, pay(30, pledge_body(), extra={7: 0})), "decode.unknown_field")
bad("counter out of range", "counter 2^32", signed(collector, pay(30, pledge_body(), counter=2**32)), "decode.out_of_range")
bad("short community", "community id of 31 bytes", signed(collector, pay(30, pledge_body(), community_key=C[:31])), "decode.bad_length")
bad("envelope of 3 items", "wire array [payload, signature, 0]", enc([p, collector.sign(p), 0]), "decode.bad_envelope")
bad("short signature", "signature of 63 bytes", enc([p, collector.sign(p)[:63]]), "decode.bad_length")
bad("payload not a map", "payload is the array [1]", signed(collector, enc([1])), "decode.bad_type")

# Size
big = pay(30, max_size_pledge(1), wall=T0 + 9000, counter=1)
bad("over-size", "a pledge.made whose wire form is 8193 bytes (one more ciphertext byte than the 8192-byte vector)", signed(collector, big), "decode.too_large")
assert len(signed(collector, big)) == MAX_EVENT_BYTES + 1

# Body fields
bad("amount overflow", "amount 2^63", signed(collector, pay(30, pledge_body(k3=2**63))), "decode.amount_overflow")
bad("amount zero", "amount 0", signed(collector, pay(30, pledge_body(k3=0))), "decode.not_positive")
bad("negative amount", "amount -1 (major type 1)", signed(collector, pay(30, pledge_body(k3=-1))), "decode.bad_type")
bad("unknown currency", "currency XYZ", signed(collector, pay(30, pledge_body(k4="XYZ"))), "decode.bad_currency")
bad("lower-case currency", "currency gbp", signed(collector, pay(30, pledge_body(k4="gbp"))), "decode.bad_currency")
bad("control character", "backer name with a tab", signed(collector, pay(30, pledge_body(k1="Bob\tSmith"))), "decode.control_char")
bad("empty name", "backer name is empty", signed(collector, pay(30, pledge_body(k1=""))), "decode.empty")
bad("name too long", "backer name of 201 bytes", signed(collector, pay(30, pledge_body(k1="b" * 201))), "decode.too_long")
bad("unknown channel", "channel 3", signed(collector, pay(30, pledge_body(k6=3))), "decode.bad_enum")
bad("anonymous not a bool", "anonymous is 0", signed(collector, pay(30, pledge_body(k2=0))), "decode.bad_type")
bad("missing body field", "pledge.made without key 2 (anonymous)", signed(collector, pay(30, pledge_body(k2=None))), "decode.missing_field")
bad("unknown body field", "pledge.withdrawn with an extra key 2", signed(collector, pay(32, {0: lido.id, 1: eve.id, 2: 0})), "decode.unknown_field")
bad("short id", "campaign id of 33 bytes", signed(collector, pay(32, {0: lido.id + b"\x00", 1: eve.id})), "decode.bad_length")
bad("empty contact list", "pledge.made with contact []", signed(collector, pay(30, pledge_body(k8=[]))), "decode.bad_type")
bad(
    "unsorted contact list", "contacts not in ascending recipient order",
    signed(collector, pay(30, pledge_body(k8=sorted([(organiser.pk, b"\x01" * 48), (founder.pk, b"\x02" * 48)], reverse=True)))),
    "decode.non_canonical",
)
bad("sealed contact too long", "a ciphertext of 1025 bytes", signed(collector, pay(30, pledge_body(k8=[[founder.pk, b"\x00" * 1025]]))), "decode.too_long")
bad(
    "unsorted organisers", "campaign.created organisers in descending order",
    signed(organiser, pay(10, campaign_body(k8=sorted([founder.pk, collector.pk], reverse=True)), author=organiser)), "decode.non_canonical",
)
bad(
    "duplicate organisers", "campaign.created organisers [founder, founder]",
    signed(organiser, pay(10, campaign_body(k8=[founder.pk, founder.pk]), author=organiser)), "decode.non_canonical",
)
bad("bad dates", "campaign.created with closes == opens", signed(organiser, pay(10, campaign_body(k6=T0), author=organiser)), "decode.bad_dates")
bad("goal zero", "campaign.created with goal 0", signed(organiser, pay(10, campaign_body(k2=0), author=organiser)), "decode.not_positive")
bad("bad time zone", "time zone 'Europe/London ' (trailing space)", signed(organiser, pay(10, campaign_body(k7="Europe/London "), author=organiser)), "decode.bad_time_zone")
bad("unknown model", "funding model 3", signed(organiser, pay(10, campaign_body(k4=3), author=organiser)), "decode.bad_enum")
bad("withdrawal without a reason", "charity.withdrawn with an empty body",
    signed(founder, pay(53, {}, author=founder)), "decode.missing_field")
bad("claim tags unsorted", "giftaid.claimed with its two tags in descending order",
    signed(treasurer, pay(51, {0: hall.id, 1: sorted([amy_tag, ben_tag], reverse=True)}, author=treasurer)), "decode.non_canonical")
bad("confirmation not a date", "giftaid.confirmed sent on 2027-02-30",
    signed(treasurer, pay(52, {0: hall.id, 1: amy_tag, 2: "2027-02-30"}, author=treasurer)), "decode.out_of_range")
bad("unknown payment method", "pledge.collected with method 4",
    signed(collector, pay(33, {0: hall.id, 1: ben.id, 2: 100, 3: "GBP", 4: 4})), "decode.bad_enum")
bad("empty update", "campaign.updated naming only the campaign", signed(organiser, pay(11, {0: lido.id}, author=organiser)), "decode.empty_update")
bad("empty tier update", "tier.updated naming only campaign and tier", signed(organiser, pay(21, {0: lido.id, 1: tier.id}, author=organiser)), "decode.empty_update")
bad("tier limit zero", "tier.added with limit 0", signed(organiser, pay(20, {0: lido.id, 1: "Mug", 3: 500, 4: 0}, author=organiser)), "decode.not_positive")
bad("tier limit out of range", "tier.added with limit 2^32", signed(organiser, pay(20, {0: lido.id, 1: "Mug", 3: 500, 4: 2**32}, author=organiser)), "decode.out_of_range")
bad("empty tier description", "tier.added with description \"\"", signed(organiser, pay(20, {0: lido.id, 1: "Mug", 2: "", 3: 500}, author=organiser)), "decode.empty")
bad(
    "revision amount without currency", "pledge.revised with amount but no currency",
    signed(collector, pay(31, {0: lido.id, 1: zoe.id, 2: 5000})), "decode.missing_field",
)
bad("unknown role", "role.granted with role 9", signed(founder, pay(2, {0: collector.pk, 1: 9}, author=founder)), "decode.bad_enum")
MATCH = {0: bytes(32), 1: "Elm Council", 2: "GBP", 3: 1, 4: [1, 1], 6: 5000}
bad("match factor too large", "match.offered with factor 11:1 (at most 10 times the pledge)",
    signed(funder, pay(40, {**MATCH, 4: [11, 1]}, author=funder)), "decode.out_of_range")
bad("match factor term too large", "match.offered with factor 1001:1000",
    signed(funder, pay(40, {**MATCH, 4: [1001, 1000]}, author=funder)), "decode.out_of_range")
bad("lump sum with a factor", "match.offered in lump-sum mode (3: 2) with a factor",
    signed(funder, pay(40, {**MATCH, 3: 2}, author=funder)), "decode.unknown_field")
bad("match percent zero", "match.offered with min_percent 0 present (absent means none)",
    signed(funder, pay(40, {**MATCH, 11: 0}, author=funder)), "decode.non_canonical")
bad("settlement page too long", "match.settled naming 151 pledges on one page",
    signed(funder, pay(43, {0: bytes(32), 1: bytes(32), 2: 0, 3: 1, 4: [[i.to_bytes(32, "big"), 0] for i in range(151)]}, author=funder)),
    "decode.too_long")
UPDATE = {0: lido.id, 1: "News", 2: "Some *news*."}
bad("update title too long", "update.posted with a title of 121 bytes",
    signed(organiser, pay(15, {**UPDATE, 1: "t" * 121}, author=organiser)), "decode.too_long")
bad("update text too long", "update.posted with a text of 7001 bytes",
    signed(organiser, pay(15, {**UPDATE, 2: "x" * 7001}, author=organiser)), "decode.too_long")
bad("update title with a line feed", "update.posted whose title holds a line feed",
    signed(organiser, pay(15, {**UPDATE, 1: "News\nmore"}, author=organiser)), "decode.control_char")
bad("update text with a tab", "update.posted whose text holds a tab (line feeds are allowed)",
    signed(organiser, pay(15, {**UPDATE, 2: "a\n\tb"}, author=organiser)), "decode.control_char")
bad("update text empty", "update.posted with the text \"\"",
    signed(organiser, pay(15, {**UPDATE, 2: ""}, author=organiser)), "decode.empty")
bad("update without text", "update.posted without key 2 (text)",
    signed(organiser, pay(15, {0: lido.id, 1: "News"}, author=organiser)), "decode.missing_field")
bad("settlement page out of range", "match.settled page 1 of 1",
    signed(funder, pay(43, {0: bytes(32), 1: bytes(32), 2: 1, 3: 1}, author=funder)), "decode.out_of_range")

# Signatures: decoding succeeds, verification fails
sig_at = len(ok) - 64
for byte, bit in [(0, 0), (31, 7), (63, 7)]:
    bad(f"flipped signature bit {byte * 8 + bit}", f"bit {bit} of signature byte {byte} flipped", flip(ok, sig_at + byte, bit), "bad_signature")
name_at = ok.index(b"Bob")
bad("flipped payload bit", "backer name 'Bob' changed to 'Cob' after signing", flip(ok, name_at, 0), "bad_signature")
bad("signed by another key", "author is the collector but the organiser signed", enc([p, organiser.sign(p)]), "bad_signature")
other = pay(30, pledge_body(), community_key=founder.pk)
bad("replayed into another community", "a valid signature over the same body in another community, with the community id swapped", enc([p, collector.sign(other)]), "bad_signature")

# ---------------------------------------------------------------------------------------------------------
# Bundle (section 12)


def bundle(wires, records=None):
    """Version 1 without `records`; version 2 (a part section after the events) with them."""
    out = b"WHIPBNDL" + (b"\x01" if records is None else b"\x02") + len(wires).to_bytes(4, "big")
    for w in wires:
        out += len(w).to_bytes(4, "big") + w
    if records is not None:
        out += len(records).to_bytes(4, "big")
        for r in records:
            out += len(r).to_bytes(4, "big") + r
    return out + blake2b(out)


bundle_events = events[:2]
bundle_hex = bundle([e.wire for e in bundle_events]).hex()
# Version 2: the version-2 pledge and its revision with their three part records, as written before the erasure.
bundle2_events = [ann, ann_rev]
bundle2_records = [bytes.fromhex(p["record"]) for p in parts if p["event_id"] in (ann.id.hex(), ann_rev.id.hex())]
bundle2_hex = bundle([e.wire for e in bundle2_events], bundle2_records).hex()

# ---------------------------------------------------------------------------------------------------------
# Invites (section 9.1)

NETWORK_KEY = bytes(range(0x40, 0x60))


def invite(community_pk, network_key, name, hubs):
    body = {0: community_pk, 1: network_key, 2: name}
    if hubs:
        body[3] = list(hubs)
    m = enc(body)
    check = blake2b(b"wri1" + m, 16)[:4]
    text = "wri1" + base64.b32encode(m + check).decode("ascii").lower().rstrip("=")
    return {
        "community": community_pk.hex(),
        "network_key": network_key.hex(),
        "community_name": name,
        "hubs": list(hubs),
        "map": m.hex(),
        "checksum": check.hex(),
        "text": text,
    }


invites = [
    {"case": "with a hub", **invite(C, NETWORK_KEY, "Elm Street", ["hub.local:7878"])},
    {"case": "no hubs", **invite(C, NETWORK_KEY, "Elm Street", [])},
]

# ---------------------------------------------------------------------------------------------------------
# Session messages (section 16): a canonical CBOR array whose first item is the type.

ID_A = bytes(range(0x00, 0x20))
ID_B = bytes(range(0x20, 0x40))


def session_message(name, value, fields):
    return {"name": name, "fields": fields, "hex": enc(value).hex()}


session_messages = [
    session_message("reconcile", [1, bytes([0x61, 0x00])], {"message": "6100"}),
    session_message("reconcile_part", [10, bytes([0x61, 0x00])], {"part": "6100"}),
    session_message("want", [2, [ID_A, ID_B]], {"ids": [ID_A.hex(), ID_B.hex()]}),
    session_message("want, no ids", [2, []], {"ids": []}),
    session_message("events", [3, [events[0].wire]], {"events": [events[0].wire.hex()]}),
    session_message("events, the end of an answer", [3, []], {"events": []}),
    session_message(
        "events, with parts", [3, [ann.wire], bundle2_records[:2]],
        {"events": [ann.wire.hex()], "parts": [r.hex() for r in bundle2_records[:2]]},
    ),
    session_message("ack", [4, 3, 1, 0], {"accepted": 3, "duplicates": 1, "rejected": 0}),
    session_message("announce", [5, [ID_A]], {"ids": [ID_A.hex()]}),
    session_message("ping", [6], {}),
    session_message("pong", [7], {}),
    session_message("goodbye", [8, "bye"], {"reason": "bye"}),
    session_message("live", [9], {}),
]

# ---------------------------------------------------------------------------------------------------------
# State digest (section 11) of the whole valid event set. Every vector event is valid and applied, so this
# replays only their effects, in replay order.


def opt(v):
    return [] if v is None else v


def hlc(wall, counter):
    return [wall, counter]


def H(v):
    return blake2b(enc(v))


def statuses(evs):
    return [[e.id, "applied"] for e in sorted(evs, key=lambda e: e.id)]


def sum256(values):
    """The sum of 32-byte values read as little-endian integers, mod 2^256, as 32 bytes little-endian."""
    return (sum(int.from_bytes(v, "little") for v in values) % 2**256).to_bytes(32, "little")


# Match funding (section 7.7), written from the document: each accepted offer walks the active pledges in
# (timestamp, counter, id) order; the crowd threshold is judged on running crowd totals, never the match.

def match_bound(terms, amount):
    num, den = terms[4]
    m = amount * num // den
    return min(m, terms[5]) if 5 in terms else m


def threshold_met(terms, crowd, backers, goal):
    return backers >= terms.get(12, 0) and crowd * 100 >= terms.get(11, 0) * goal


def offer_outcome(o, c):
    """(status, matched, {pledge id: (amount, status)}) of one offer."""
    t = o["terms"]
    if c["phase"] == "cancelled":
        return "cancelled", 0, {}
    if not o["accepted"]:
        return ("withdrawn" if o["withdrawn"] is not None else "pending"), 0, {}
    active = sorted((p["made"], pid, p) for pid, p in c["pledges"].items() if p["status"] == "active")
    complete = o["pages"] is not None and len(o["settled_pages"]) == o["pages"]
    if t[3] == 2:  # lump sum
        if complete:
            return "settled", o["lump"], {}
        if o["withdrawn"] is not None:
            return "withdrawn", 0, {}
        crowd = sum(p["amount"] for _, _, p in active)
        if threshold_met(t, crowd, len(active), c["goal"]):
            return "open", t[6], {}
        return "conditions not met", 0, {}
    left = t[6]
    unlocked = threshold_met(t, 0, 0, c["goal"])
    crowd = 0
    out = {}
    for i, (made, pid, p) in enumerate(active):
        crowd += p["amount"]
        unlocked = unlocked or threshold_met(t, crowd, i + 1, c["goal"])
        if (7 in t and made[0] < t[7]) or (8 in t and made[0] >= t[8]):
            out[pid] = (0, "not matched (outside the window)")
        elif 9 in t and p["tier"] != t[9]:
            out[pid] = (0, "not matched (other tier)")
        elif 10 in t and p["channel"] != t[10]:
            out[pid] = (0, "not matched (other channel)")
        elif o["withdrawn"] is not None and made >= o["withdrawn"]:
            out[pid] = (0, "not matched (after the withdrawal)")
        elif not unlocked:
            out[pid] = (0, "not matched (before the crowd threshold)")
        else:
            want = match_bound(t, p["amount"])
            give = min(want, left)
            left -= give
            out[pid] = (give, "not matched (too small)" if want == 0 else "matched" if give == want
                        else "part matched" if give > 0 else "not matched (cap reached)")
    if complete:
        filtered = ("outside the window", "other tier", "other channel", "after the withdrawal")
        for _, pid, p in active:
            amount, status = out[pid]
            if pid in o["settled"]:
                frozen = o["settled"][pid]
                if frozen == 0:
                    out[pid] = (0, status if amount == 0 else "not matched (cap reached)")
                else:
                    out[pid] = (frozen, "matched" if frozen >= match_bound(t, p["amount"]) else "part matched")
            elif any(f in status for f in filtered):
                out[pid] = (0, status)
            else:
                out[pid] = (0, "late for match")
        status = "settled"
    elif o["withdrawn"] is not None:
        status = "withdrawn"
    else:
        status = "open" if unlocked else "conditions not met"
    return status, sum(a for a, _ in out.values()), out


def match_outcomes(c):
    """Every offer's outcome; an all-or-nothing campaign whose events show it closed (phase closed, or an
    applied event stamped at or after the deadline) and that is short of its goal, crowd plus match, has failed."""
    out = {oid: offer_outcome(o, c) for oid, o in c["offers"].items()}
    if c["closed_by_events"] and c["model"] == 1 and c["phase"] != "cancelled":
        if c["pledged"] + sum(m for _, m, _ in out.values()) < c["goal"]:
            out = {oid: ("failed", 0, {pid: (0, "not matched (campaign failed)") for pid in pledges})
                   for oid, (_, _, pledges) in out.items()}
    return out


def match_items(c):
    if not c["offers"]:
        return []
    offers = []
    outcomes = match_outcomes(c)
    for oid in sorted(c["offers"]):
        o = c["offers"][oid]
        status, matched, pledges = outcomes[oid]
        offers.append([
            oid, o["funder"], list(o["made"]), o["accepted"], list(o["withdrawn"]) if o["withdrawn"] else [], opt(o["pages"]),
            sorted(o["settled_pages"]), status, matched, [[pid, a, st] for pid, (a, st) in sorted(pledges.items())],
        ])
    return [offers]


def match_summary(c):
    out = []
    outcomes = match_outcomes(c)
    for oid in sorted(c["offers"]):
        status, matched, pledges = outcomes[oid]
        out.append({
            "offer": oid.hex(), "status": status, "matched": matched,
            "pledges": [{"pledge": pid.hex(), "matched": a, "status": st} for pid, (a, st) in sorted(pledges.items())],
        })
    return out


def digest_of(evs):
    evs = sorted(evs, key=Event.order_key)
    community_level = [e for e in evs if e.kind in COMMUNITY_LEVEL]
    gen = next(e for e in community_level if e.kind == 1)
    timeline = {}
    charity = []
    budgets = []
    for e in community_level:
        if e.kind in (2, 3):
            timeline.setdefault((e.body[0], e.body[1]), []).append([e.id, e.kind == 2, opt(e.body.get(2))])
        elif e.kind == 50:
            # Founder-signed in the vectors, so applied; the entry in force is the last in replay order.
            charity.append([e.id, e.body[0], e.body[1], e.body[2], e.body[3]])
        elif e.kind == 53:
            # Founder-signed after a recognition, so applied: a two-item entry (id, reason).
            charity.append([e.id, e.body[0]])
        elif e.kind == 44:
            # Signed by a member holding the funder role, so applied.
            budgets.append([e.id, e.author.pk, e.body[0], e.body[1]])
    authority_items = [
        gen.id, gen.body[0], gen.body[1],
        [[m, r, entries] for (m, r), entries in sorted(timeline.items())],
        statuses(community_level),
    ]
    if charity or budgets:
        authority_items.append(charity)
    if budgets:
        authority_items.append(budgets)
    authority = H(authority_items)

    partitions = {}
    for e in evs:
        if e.kind not in COMMUNITY_LEVEL:
            partitions.setdefault(e.id if e.kind == 10 else e.body[0], []).append(e)

    partition_digests = {}
    for cid, pevs in partitions.items():
        c = None
        for e in pevs:
            b = e.body
            if e.kind == 10:
                c = dict(id=e.id, creator=e.author.pk, created=hlc(e.wall, e.counter), title=b[0], description=b[1],
                         goal=b[2], currency=b[3], model=b[4], opens=b[5], closes=b[6], tz=b[7],
                         organisers=sorted(set(b[8]) | {e.author.pk}), phase="draft", cancel=None,
                         pledged=0, collected=0, backers=0, has_pledges=False, tiers={}, pledges={}, offers={}, claimed=set())
            elif e.kind == 11:
                for k, f in [(1, "title"), (2, "description"), (3, "goal"), (4, "currency"), (5, "model"), (6, "opens"), (7, "closes"), (8, "tz")]:
                    if k in b:
                        c[f] = b[k]
                if 9 in b:
                    c["organisers"] = sorted(set(b[9]) | {c["creator"]})
            elif e.kind == 12:
                c["phase"] = "live"
            elif e.kind == 13:
                c["phase"] = "closed"
            elif e.kind == 14:
                c["phase"], c["cancel"] = "cancelled", b.get(1)
            elif e.kind == 20:
                c["tiers"][e.id] = dict(title=b[1], description=b.get(2), minimum=b[3], limit=b.get(4), benefit=b.get(5))
            elif e.kind == 21:
                for k, f in [(2, "title"), (3, "description"), (4, "minimum"), (5, "limit"), (6, "benefit")]:
                    if k in b:
                        c["tiers"][b[1]][f] = b[k]
            elif e.kind == 30:
                late = c["phase"] == "closed" or e.wall >= c["closes"]
                p = dict(author=e.author.pk, made=(e.wall, e.counter), name=b[1], anonymous=b[2], amount=b[3],
                         tier=b.get(5), channel=b[6], status="late" if late else "active", collected=0, by=None, method=None, reason=None,
                         )
                if not late:
                    c["pledged"] += b[3]
                    c["backers"] += 1
                    if 7 in b:
                        c["collected"] += b[3]
                        p.update(collected=b[3], by=e.author.pk, method=b[7])
                c["has_pledges"] = True
                c["pledges"][e.id] = p
            elif e.kind == 35:
                # No name or anonymity: the commitments take their place in the pledge's hash.
                p = dict(author=e.author.pk, made=(e.wall, e.counter), commitments=list(b[6]), amount=b[1],
                         tier=b.get(3), channel=b[4], status="active", collected=0, by=None, method=None, reason=None)
                c["pledged"] += b[1]
                c["backers"] += 1
                if 5 in b:
                    c["collected"] += b[1]
                    p.update(collected=b[1], by=e.author.pk, method=b[5])
                c["has_pledges"] = True
                c["pledges"][e.id] = p
            elif e.kind == 36:
                p = c["pledges"][b[1]]
                if 2 in b:
                    c["pledged"] += b[2] - p["amount"]
                    p["amount"] = b[2]
                if 4 in b:
                    p["tier"] = b[4]
                if 5 in b:
                    p["commitments"][0] = b[5]
            elif e.kind == 37:
                pass  # erasure changes no pledge's hash: only its own status enters the digest
            elif e.kind == 31:
                p = c["pledges"][b[1]]
                if 2 in b:
                    c["pledged"] += b[2] - p["amount"]
                    p["amount"] = b[2]
                if 4 in b:
                    p["tier"] = b[4]
                if 5 in b:
                    p["name"] = b[5]
                if 6 in b:
                    p["anonymous"] = b[6]
            elif e.kind == 32:
                p = c["pledges"][b[1]]
                p["status"] = "withdrawn"
                c["pledged"] -= p["amount"]
                c["backers"] -= 1
            elif e.kind == 33:
                # Part payments add up; the first collection in replay order names who collected and how.
                p = c["pledges"][b[1]]
                c["collected"] += b[2]
                p["collected"] += b[2]
                if p["by"] is None:
                    p.update(by=e.author.pk, method=b[4])
            elif e.kind == 34:
                p = c["pledges"][b[1]]
                if p["status"] == "active":
                    c["pledged"] -= p["amount"]
                    c["collected"] -= p["collected"]
                    c["backers"] -= 1
                p["status"], p["reason"] = "rejected", b[2]
            elif e.kind == 51:
                # Ledger rules only (section 6.51): a treasurer, a recognised charity, a GBP campaign, and no tag
                # claimed by an earlier applied claim of the campaign. The vectors' claim is valid.
                assert c["currency"] == "GBP" and not set(b[1]) & c["claimed"]
                c["claimed"] |= set(b[1])
            elif e.kind == 15:
                pass  # an update changes no hashed item: only its own status enters the digest (section 11)
            elif e.kind == 52:
                pass  # a confirmation changes no hashed item: only its own status enters the digest
            elif e.kind == 40:
                c["offers"][e.id] = dict(funder=e.author.pk, made=(e.wall, e.counter), terms=b, accepted=False, withdrawn=None,
                                         pages=None, settled_pages=set(), settled={}, lump=None)
            elif e.kind == 41:
                c["offers"][b[1]]["accepted"] = True
            elif e.kind == 42:
                c["offers"][b[1]]["withdrawn"] = (e.wall, e.counter)
            elif e.kind == 43:
                o = c["offers"][b[1]]
                o["pages"] = b[3]
                o["settled_pages"].add(b[2])
                for pid, amount in b.get(4, []):
                    o["settled"][pid] = amount
                if 5 in b:
                    o["lump"] = b[5]
        items = [sum256(H([e.id, "applied"]) for e in pevs), len(pevs)]
        if c is not None:
            # Every vector event is applied, so any of the partition stamped at or after the deadline shows the close.
            c["closed_by_events"] = c["phase"] == "closed" or any(e.wall >= c["closes"] for e in pevs)
            waitlisted = set()
            tiers = []
            for tid in sorted(c["tiers"]):
                t = c["tiers"][tid]
                ps = sorted((p["made"], pid) for pid, p in c["pledges"].items() if p["status"] == "active" and p["tier"] == tid)
                limit = t["limit"] if t["limit"] is not None else len(ps)
                waitlisted |= {pid for _, pid in ps[limit:]}
                tiers.append([
                    tid, t["title"], opt(t["description"]), t["minimum"], opt(t["limit"]),
                    len(ps), min(len(ps), limit), max(0, len(ps) - limit),
                ] + ([[t["benefit"]]] if t.get("benefit") is not None else []))
            pledge_hashes = []
            for pid, p in c["pledges"].items():
                if "commitments" in p:
                    pledge_hashes.append(H([
                        pid, p["author"], list(p["made"]), p["commitments"], p["amount"], opt(p["tier"]), p["channel"],
                        p["status"], p["collected"], opt(p["by"]), opt(p["method"]), opt(p["reason"]),
                    ]))
                    continue
                pledge_hashes.append(H([
                    pid, p["author"], list(p["made"]), p["name"], p["anonymous"], p["amount"], opt(p["tier"]), p["channel"],
                    p["status"], p["collected"], opt(p["by"]), opt(p["method"]), opt(p["reason"]),
                ]))
            items.append([
                c["id"], c["creator"], c["created"], c["title"], c["description"], c["goal"], c["currency"], c["model"],
                c["opens"], c["closes"], c["tz"], c["organisers"], c["phase"], opt(c["cancel"]), c["pledged"], c["collected"],
                c["backers"], c["has_pledges"], tiers, sum256(pledge_hashes), len(pledge_hashes),
            ] + match_items(c))
            summary = {k: c[k] for k in ("phase", "pledged", "collected", "backers")}
            summary["waitlisted"] = [pid.hex() for pid in sorted(waitlisted)]
            if c["offers"]:
                summary["matches"] = match_summary(c)
        else:
            summary = None
        partition_digests[cid] = (H(items), summary)

    fingerprint = sum256(e.id for e in evs)
    d = H([
        C, authority,
        [[cid, partition_digests[cid][0]] for cid in sorted(partition_digests)],
        len(evs), fingerprint,
    ])
    return {
        "community": C.hex(),
        "events": [e.name for e in evs],
        "event_count": len(evs),
        "fingerprint": fingerprint.hex(),
        "authority": authority.hex(),
        "partitions": [
            {"campaign": cid.hex(), "digest": partition_digests[cid][0].hex(), "state": partition_digests[cid][1]}
            for cid in sorted(partition_digests)
        ],
        "digest": d.hex(),
    }


digest = digest_of(events)

# ---------------------------------------------------------------------------------------------------------

doc = {
    "about": "Whipround protocol test vectors (docs/PROTOCOL.md), generated by tools/vectors/gen_vectors.py. "
    "Byte strings are lower-case hex. Every event in 'events' is valid and applied; 'invalid' gives the "
    "expected decoding error code, or 'bad_signature' when decoding succeeds but the signature does not verify.",
    "version": 1,
    "keys": [
        {
            "name": k.name,
            "seed": k.seed.hex(),
            "public": k.pk.hex(),
            "wrk1": printable(k.pk, "wrk1"),
            "wrc1": printable(k.pk, "wrc1"),
        }
        for k in KEYS
    ],
    "events": [e.to_json() for e in events],
    "invalid": invalid,
    "bundle": {
        "events": [e.name for e in bundle_events],
        "event_ids": [e.id.hex() for e in bundle_events],
        "hex": bundle_hex,
        "checksum": bundle_hex[-64:],
    },
    "bundle_v2": {
        "events": [e.name for e in bundle2_events],
        "event_ids": [e.id.hex() for e in bundle2_events],
        "parts": [r.hex() for r in bundle2_records],
        "hex": bundle2_hex,
        "checksum": bundle2_hex[-64:],
    },
    "digest": digest,
    "parts": parts,
    "gift_aid_declaration": gift_aid_declaration,
    "invites": invites,
    "session_messages": session_messages,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if the committed vectors differ from a fresh run")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if args.check:
        with open(args.out, encoding="utf-8") as f:
            if f.read() != text:
                sys.exit(f"{args.out} is out of date: run tools/vectors/gen_vectors.py")
        print(f"{args.out} is up to date")
        return
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {args.out}: {len(doc['keys'])} keys, {len(doc['events'])} events, {len(doc['invalid'])} invalid, {len(parts)} parts, 2 bundles, 1 digest, {len(invites)} invites, {len(session_messages)} session messages")


if __name__ == "__main__":
    main()
