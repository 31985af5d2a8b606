"""Interception commands of the `reservation` CLI (InterceptionService): the review
queue and the rule set, without writing gRPC code.

    reservation reviews list [--closed] [--limit N]
    reservation reviews resolve CHANNEL SHOP ORDER_ID approve|reject|edit_address
                                [--note TEXT] [--province P --city C --district D --detail X]
    reservation interception rules get
    reservation interception rules put FILE.yaml [--comment TEXT] [--expected-version N]

Lists print one line per review; `--json` prints the reply as JSON. `--dry-run` on
resolve shows the review and what the decision would do; on rules put the service
checks the document (validate_only) and stores nothing.
"""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from reservation.api import connection
from reservation.cli import plan, rpc
from reservation.v1 import interception_service_pb2 as pb
from reservation.v1 import interception_service_pb2_grpc as pb_grpc
from reservation.v1 import order_service_pb2 as opb

DECISIONS = ("approve", "reject", "edit_address")


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S") if ms else ""


def review_line(r: pb.Review) -> str:
    key = f"{r.key.channel}/{r.key.shop}/{r.key.order_id}"
    parts = [key, r.status, f"grade {r.grade}", f"rule {r.rule}", r.reason]
    if r.suggest:
        parts.append(f"suggests {r.suggest}")
    parts.append(f"opened {_when(r.opened_at_ms)}")
    if r.closed_at_ms:
        parts.append(f"closed {_when(r.closed_at_ms)} by {r.operator or 'the hub'}")
    if r.escalated:
        parts.append("ESCALATED")
    return "  ".join(p for p in parts if p)


def _call(a: argparse.Namespace, method: str, request: Any, show: Any = None) -> int:
    return rpc.call(a, pb_grpc.InterceptionServiceStub, method, request,
                    show=None if a.json else show)


def _list(a: argparse.Namespace) -> int:
    return _call(a, "ListReviews", pb.ListReviewsRequest(
        status="closed" if a.closed else "open", page_size=a.limit),
        show=lambda reply: "\n".join(review_line(r) for r in reply.reviews)
        or "no reviews")


def _key(a: argparse.Namespace) -> opb.OrderKey:
    return opb.OrderKey(channel=a.channel, shop=a.shop, order_id=a.order_id)


def _resolve(a: argparse.Namespace) -> int:
    request = pb.ResolveReviewRequest(key=_key(a), decision=a.decision,
                                      operator=a.operator, note=a.note)
    if a.decision == "edit_address":
        request.address.CopyFrom(opb.Address(province=a.province, city=a.city,
                                             district=a.district, detail=a.detail))
    if a.dry_run:
        return plan.plan(a, "reviews resolve", lambda reads: _resolve_plan(reads, a))
    return _call(a, "ResolveReview", request,
                 show=lambda reply: f"{review_line(reply.review)}\norder now "
                 f"{reply.order.state}")


_AFTER = {"approve": "ROUTED if paid, else PENDING_PAYMENT (a refused refund goes on)",
          "reject": "CANCELLED (REFUNDED for a refund request)",
          "edit_address": "the new address, then as approve"}


async def _resolve_plan(reads: plan.Reads, a: argparse.Namespace) -> dict[str, Any]:
    """The open review of the order (from the open list) and what the decision does."""
    listed = await reads(pb_grpc.InterceptionServiceStub, "ListReviews",
                         pb.ListReviewsRequest(status="open", page_size=1000))
    for r in listed.reviews:
        if (r.key.channel, r.key.shop, r.key.order_id) == (a.channel, a.shop, a.order_id):
            return {"review": review_line(r), "decision": a.decision,
                    "order_would_be": _AFTER[a.decision]}
    raise plan.Refused(f"order {a.channel}/{a.shop}/{a.order_id} has no open review")


def _document(path: str) -> str:
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"error: cannot read {path}: {exc}") from None
    return json.dumps(doc, ensure_ascii=False)


def _rules_line(reply: Any) -> str:
    return f"version {reply.rules.version}\n{reply.rules.document_json}"


def _rules_get(a: argparse.Namespace) -> int:
    return _call(a, "GetInterceptionRules", pb.GetInterceptionRulesRequest(),
                 show=_rules_line)


def _rules_put(a: argparse.Namespace) -> int:
    request = pb.PutInterceptionRulesRequest(
        document_json=_document(a.file), comment=a.comment,
        expected_version=a.expected_version, actor=f"operator:{_operator()}",
        validate_only=a.dry_run)
    if a.dry_run:
        return rpc.call(a, pb_grpc.InterceptionServiceStub, "PutInterceptionRules", request,
                        show=plan.show("interception rules put"))
    return _call(a, "PutInterceptionRules", request, show=_rules_line)


def add_commands(sub: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    connection.add_connection_arguments(common)
    common.add_argument("--json", action="store_true", help="the reply as JSON")

    reviews = sub.add_parser("reviews", help="orders held by interception, for a person")
    rsub = reviews.add_subparsers(dest="reviews_command", required=True)
    p = rsub.add_parser("list", parents=[common], help="open reviews (or --closed)")
    p.add_argument("--closed", action="store_true", help="closed ones, newest first")
    p.add_argument("--limit", type=int, default=0, help="at most this many (0: 100)")
    p.set_defaults(func=_list)
    p = rsub.add_parser("resolve", parents=[common], help="decide a held order")
    p.add_argument("channel")
    p.add_argument("shop")
    p.add_argument("order_id")
    p.add_argument("decision", choices=DECISIONS)
    p.add_argument("--note", default="", help="why (kept on the review and the history)")
    p.add_argument("--operator", default=_operator(), help="who decides (default: you)")
    for part in ("province", "city", "district", "detail"):
        p.add_argument(f"--{part}", default="", help="edit_address: the corrected address")
    plan.add_dry_run(p)
    p.set_defaults(func=_resolve)

    icpt = sub.add_parser("interception", help="the interception rule set")
    isub = icpt.add_subparsers(dest="interception_command", required=True)
    rules = isub.add_parser("rules", help="get or put the rule set")
    rs = rules.add_subparsers(dest="rules_command", required=True)
    p = rs.add_parser("get", parents=[common], help="the rule set in force")
    p.set_defaults(func=_rules_get)
    p = rs.add_parser("put", parents=[common], help="a new version from a YAML or JSON file")
    p.add_argument("file", metavar="FILE.yaml")
    p.add_argument("--comment", default="")
    p.add_argument("--expected-version", type=int, default=0,
                   help="refuse unless this is the current version")
    plan.add_dry_run(p)
    p.set_defaults(func=_rules_put)
