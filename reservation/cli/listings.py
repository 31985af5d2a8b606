"""`reservation listings`: stock out to the channels (ListingService), JSON on stdout.

    reservation listings get SKU [SKU...]            each listing: told vs the service's count
    reservation listings quantities CHANNEL SHOP SKU...   what a listing should show now
    reservation listings resync CHANNEL [SHOP]       every SKU of those listings pushed again
    reservation listings rules get [--version N]
    reservation listings rules put FILE.yaml [--comment TEXT] [--expected-version N]
    reservation listings rules history [--limit N]
    reservation listings rules rollback VERSION
"""

from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path
from typing import Any

import yaml

from reservation.api import connection
from reservation.cli import plan, rpc
from reservation.v1 import listing_service_pb2 as pb
from reservation.v1 import listing_service_pb2_grpc as pb_grpc


def _call(args: argparse.Namespace, method: str, request: Any) -> int:
    return rpc.call(args, pb_grpc.ListingServiceStub, method, request)


def _actor() -> str:
    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):
        return "operator"


def _document(path: str) -> str:
    """A YAML (or JSON) rule file, as the JSON the service takes."""
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"error: cannot read {path}: {exc}") from None
    return json.dumps(doc, ensure_ascii=False)


def _get(a: argparse.Namespace) -> int:
    return _call(a, "GetChannelStock", pb.GetChannelStockRequest(skus=a.skus))


def _quantities(a: argparse.Namespace) -> int:
    return _call(a, "GetListingQuantities", pb.GetListingQuantitiesRequest(
        channel=a.channel, shop=a.shop, skus=a.skus))


def _resync(a: argparse.Namespace) -> int:
    if a.dry_run:
        return plan.plan(a, "listings resync", lambda reads: _resync_plan(reads, a))
    return _call(a, "ResyncChannelStock", pb.ResyncChannelStockRequest(channel=a.channel,
                                                                      shop=a.shop))


def _rules_get(a: argparse.Namespace) -> int:
    return _call(a, "GetListingRules", pb.GetListingRulesRequest(version=a.version))


async def _resync_plan(reads: plan.Reads, a: argparse.Namespace) -> dict[str, Any]:
    """Nothing to read but the rule set in force: the workers push what it says."""
    rules = (await reads(pb_grpc.ListingServiceStub, "GetListingRules",
                         pb.GetListingRulesRequest())).rules
    return {"channel": a.channel, "shop": a.shop or "(every shop)",
            "effect": "its stock-sync workers push every SKU again",
            "rules_version": rules.version}


def _rules_put(a: argparse.Namespace) -> int:
    return rpc.call(a, pb_grpc.ListingServiceStub, "PutListingRules", pb.PutListingRulesRequest(
        document_json=_document(a.file), comment=a.comment,
        expected_version=a.expected_version, actor=_actor(), validate_only=a.dry_run),
        show=plan.show("listings rules put") if a.dry_run else None)


def _rules_history(a: argparse.Namespace) -> int:
    return _call(a, "ListListingRuleHistory", pb.ListListingRuleHistoryRequest(limit=a.limit))


def _rules_rollback(a: argparse.Namespace) -> int:
    if a.dry_run:
        return plan.plan(a, "listings rules rollback", lambda reads: _rollback_plan(reads, a))
    return _call(a, "RollbackListingRules", pb.RollbackListingRulesRequest(
        version=a.version, actor=_actor()))


async def _rollback_plan(reads: plan.Reads, a: argparse.Namespace) -> dict[str, Any]:
    stub = pb_grpc.ListingServiceStub
    current = (await reads(stub, "GetListingRules", pb.GetListingRulesRequest())).rules
    old = (await reads(stub, "GetListingRules", pb.GetListingRulesRequest(
        version=a.version))).rules
    return {"version": [current.version, current.version + 1],
            "document_of_version": old.version, "document_json": old.document_json}


def add_commands(sub: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    connection.add_connection_arguments(common)
    listings = sub.add_parser("listings", help="stock out to the channels' listings")
    ls = listings.add_subparsers(dest="listings_command", required=True)
    p = ls.add_parser("get", parents=[common],
                      help="each listing of these SKUs: what it was told, the service's count")
    p.add_argument("skus", nargs="+", metavar="SKU")
    p.set_defaults(func=_get)
    p = ls.add_parser("quantities", parents=[common],
                      help="what a listing (a channel's shop) should show now, and why")
    p.add_argument("channel")
    p.add_argument("shop")
    p.add_argument("skus", nargs="+", metavar="SKU")
    p.set_defaults(func=_quantities)
    p = ls.add_parser("resync", parents=[common],
                      help="ask a channel's (or one shop's) workers to push every SKU again")
    p.add_argument("channel")
    p.add_argument("shop", nargs="?", default="")
    plan.add_dry_run(p)
    p.set_defaults(func=_resync)

    rules = ls.add_parser("rules", help="the listing rule set: shares per channel")
    rs = rules.add_subparsers(dest="rules_command", required=True)
    p = rs.add_parser("get", parents=[common], help="the rule set in force (or a version)")
    p.add_argument("--version", type=int, default=0)
    p.set_defaults(func=_rules_get)
    p = rs.add_parser("put", parents=[common], help="a new version from a YAML or JSON file")
    p.add_argument("file", metavar="FILE.yaml")
    p.add_argument("--comment", default="")
    p.add_argument("--expected-version", type=int, default=0,
                   help="refuse unless this is the current version")
    plan.add_dry_run(p)
    p.set_defaults(func=_rules_put)
    p = rs.add_parser("history", parents=[common], help="earlier versions, newest first")
    p.add_argument("--limit", type=int, default=0)
    p.set_defaults(func=_rules_history)
    p = rs.add_parser("rollback", parents=[common], help="an earlier version, put again")
    p.add_argument("version", type=int)
    plan.add_dry_run(p)
    p.set_defaults(func=_rules_rollback)
