#!/usr/bin/env python3
"""Contract check of the Genesys Cloud API stand-in against the official SDK.

Points PyPI `purecloudplatformclientv2` (pinned in infra/requirements.txt) at the stand-in
(`Configuration.host`; the SDK derives the login host from it, which is the same server here),
takes a token from its `POST /oauth/token` (`ApiClient.get_client_credentials_token`), calls

  UsersApi.get_users(expand=[presence, routingStatus], state=active)  GET /api/v2/users
  UsersApi.get_users(expand=[employerInfo], state=active)           GET /api/v2/users (profile sync)
  PresenceApi.get_users_presences_purecloud_bulk(id=[...])         GET /api/v2/users/presences/purecloud/bulk
  UsersApi.get_user_routingstatus(user_id)                          GET /api/v2/users/{userId}/routingstatus
  GroupsApi.get_group_members / get_group_individuals               GET /api/v2/groups/{groupId}/members|individuals
  RoutingApi.get_routing_queue_members                              GET /api/v2/routing/queues/{queueId}/members
  OrganizationApi.get_organizations_me                              GET /api/v2/organizations/me

and checks that every answer parses into the SDK's own models: required fields not None and of
the model's types, no enum value unknown to the SDK (it turns those into
"outdated_sdk_version"), and — stricter than the SDK, which drops unknown keys silently — every
key of the raw JSON is a member of the model it is read as, with a value of that member's type.
Error answers (400 above the 50-id bulk limit, 401 for a bad token) are checked as `ErrorBody`.

Usage: contract_check.py BASE_URL CLIENT_ID CLIENT_SECRET ORG_ID AGENTS GROUP_ID QUEUE_ID
Prints one line `ok: …` and exits 0, or `contract: <problem>` lines and exits 1.
"""

import argparse
import json
import sys
from datetime import datetime

import PureCloudPlatformClientV2 as sdk
from PureCloudPlatformClientV2.rest import ApiException

PROBLEMS = []


def problem(text):
    PROBLEMS.append(text)


def check_value(value, swagger_type, where):
    """Checks raw JSON `value` against an SDK swagger type string, recursively."""
    if value is None:
        return
    if swagger_type.startswith("list["):
        if not isinstance(value, list):
            return problem(f"{where}: expected a list, got {type(value).__name__}")
        for i, item in enumerate(value):
            check_value(item, swagger_type[5:-1], f"{where}[{i}]")
        return
    if swagger_type.startswith("dict("):
        if not isinstance(value, dict):
            return problem(f"{where}: expected an object, got {type(value).__name__}")
        inner = swagger_type[5:-1].split(", ", 1)[1]
        for k, v in value.items():
            check_value(v, inner, f"{where}.{k}")
        return
    simple = {"str": str, "bool": bool, "object": object}
    if swagger_type in simple:
        if not isinstance(value, simple[swagger_type]):
            problem(f"{where}: expected {swagger_type}, got {type(value).__name__}")
        return
    if swagger_type in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problem(f"{where}: expected {swagger_type}, got {type(value).__name__}")
        if swagger_type == "int" and isinstance(value, float):
            problem(f"{where}: expected int, got float")
        return
    if swagger_type == "datetime":
        from dateutil.parser import isoparse

        try:
            isoparse(value)
        except (TypeError, ValueError):
            problem(f"{where}: not an ISO 8601 datetime: {value!r}")
        return
    model = getattr(sdk, swagger_type, None)
    if model is None:
        return problem(f"{where}: the SDK has no model {swagger_type}")
    if not isinstance(value, dict):
        return problem(f"{where}: expected a {swagger_type} object, got {type(value).__name__}")
    instance = model()
    by_json = {j: a for a, j in instance.attribute_map.items()}
    for key, v in value.items():
        attr = by_json.get(key)
        if attr is None:
            problem(f"{where}.{key}: not a member of the SDK model {swagger_type}")
        else:
            check_value(v, instance.swagger_types[attr], f"{where}.{key}")


def no_outdated(obj, where):
    """The SDK replaces enum values it does not know with "outdated_sdk_version"."""
    if obj == "outdated_sdk_version":
        problem(f"{where}: an enum value the SDK does not know")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            no_outdated(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            no_outdated(v, f"{where}[{i}]")


def call(client, fn, model, where, **kwargs):
    """Calls `fn`, checks the raw answer against `model`; returns the SDK's parsed answer."""
    try:
        parsed = fn(**kwargs)
    except ApiException as e:
        problem(f"{where}: HTTP {e.status}: {e.body}")
        return None
    raw = json.loads(client.last_response.data)
    check_value(raw, model, where)
    dumped = [p.to_dict() for p in parsed] if isinstance(parsed, list) else parsed.to_dict()
    no_outdated(dumped, where)
    return parsed


def required(obj, names, where, kind=None):
    for name in names:
        value = getattr(obj, name, None)
        if value is None:
            problem(f"{where}.{name}: missing (None)")
        elif kind is not None and name in kind and not isinstance(value, kind[name]):
            problem(f"{where}.{name}: {type(value).__name__}, expected {kind[name].__name__}")


def check_presence(p, where, with_user_id):
    required(p, ["source", "presence_definition", "message", "modified_date"], where,
             {"modified_date": datetime, "message": str})
    if with_user_id:
        required(p, ["user_id"], where)
    if p.presence_definition is not None:
        required(p.presence_definition, ["id", "system_presence"], f"{where}.presenceDefinition")
    if p.modified_date is not None and p.modified_date.tzinfo is None:
        problem(f"{where}.modifiedDate: no time zone")


def check_routing(r, where):
    required(r, ["user_id", "status", "start_time"], where, {"start_time": datetime})


def check_error(client, fn, status, code_prefix, where, **kwargs):
    try:
        fn(**kwargs)
    except ApiException as e:
        if e.status != status:
            return problem(f"{where}: HTTP {e.status}, expected {status}")
        body = json.loads(e.body)
        check_value(body, "ErrorBody", where)
        if body.get("status") != status or not str(body.get("code", "")).startswith(code_prefix):
            problem(f"{where}: ErrorBody status/code {body.get('status')}/{body.get('code')}")
        return None
    problem(f"{where}: answered 2xx, expected {status}")


def main():
    ap = argparse.ArgumentParser()
    for name in ("base_url", "client_id", "client_secret", "org_id"):
        ap.add_argument(name)
    ap.add_argument("agents", type=int)
    ap.add_argument("group_id")
    ap.add_argument("queue_id")
    a = ap.parse_args()

    sdk.configuration.host = a.base_url
    client = sdk.api_client.ApiClient().get_client_credentials_token(a.client_id, a.client_secret)
    if not client.access_token:
        problem("token: no access_token")
    users_api = sdk.UsersApi(client)

    # Users, every page, with presence and routing status.
    seen, page_number, page_count = [], 1, None
    while True:
        where = f"get_users(page {page_number})"
        page = call(client, users_api.get_users, "UserEntityListing", where, page_size=100,
                    page_number=page_number, expand=["presence", "routingStatus"], state="active")
        if page is None:
            break
        required(page, ["entities", "page_size", "page_number", "total", "page_count"], where,
                 {"total": int, "page_count": int})
        page_count = page.page_count
        if page.total != a.agents:
            problem(f"{where}: total {page.total}, expected {a.agents}")
        for i, u in enumerate(page.entities or []):
            w = f"{where}.entities[{i}]"
            required(u, ["id", "name", "state", "presence", "routing_status", "division"], w)
            if u.division is not None:
                # The division selection filters these pages by `division.id`.
                required(u.division, ["id"], f"{w}.division", {"id": str})
            if u.presence is not None:
                check_presence(u.presence, f"{w}.presence", False)
                required(u.presence, ["primary"], f"{w}.presence", {"primary": bool})
            if u.routing_status is not None:
                check_routing(u.routing_status, f"{w}.routingStatus")
            seen.append(u.id)
        if not page.next_uri:
            break
        page_number += 1
    if len(seen) != a.agents or len(set(seen)) != a.agents:
        problem(f"get_users: {len(seen)} users ({len(set(seen))} distinct), expected {a.agents}")
    if page_count != -(-a.agents // 100):
        problem(f"get_users: pageCount {page_count}")

    # The fields `relayctl profile sync` reads: username, email, employerInfo.employeeId.
    with_employee_id, fields_seen = 0, 0
    page_number_f = 1
    while True:
        where = f"get_users(employerInfo, page {page_number_f})"
        page = call(client, users_api.get_users, "UserEntityListing", where, page_size=500,
                    page_number=page_number_f, expand=["employerInfo"], state="active")
        if page is None:
            break
        for i, u in enumerate(page.entities or []):
            w = f"{where}.entities[{i}]"
            required(u, ["id", "username", "email"], w, {"username": str, "email": str})
            if u.presence is not None or u.routing_status is not None:
                problem(f"{w}: presence / routingStatus without being asked for")
            if u.employer_info is not None:
                required(u.employer_info, ["employee_id"], f"{w}.employerInfo",
                         {"employee_id": str})
                with_employee_id += 1
            fields_seen += 1
        if not page.next_uri:
            break
        page_number_f += 1
    if fields_seen != a.agents:
        problem(f"get_users(employerInfo): {fields_seen} users, expected {a.agents}")
    if a.agents > 0 and with_employee_id == 0:
        problem("get_users(employerInfo): no user has employerInfo.employeeId")

    # Bulk presence: 50 ids parse; 51 are refused with an ErrorBody.
    presence_api = sdk.PresenceApi(client)
    ids = seen[:50]
    bulk = call(client, presence_api.get_users_presences_purecloud_bulk,
                "list[UcUserPresence]", "presence_bulk(50)", id=ids)
    if bulk is not None:
        if sorted(p.user_id for p in bulk) != sorted(ids):
            problem("presence_bulk(50): not one presence per id")
        for i, p in enumerate(bulk):
            check_presence(p, f"presence_bulk[{i}]", True)
    if len(seen) > 50:
        check_error(client, presence_api.get_users_presences_purecloud_bulk, 400, "bad.request",
                    "presence_bulk(51)", id=seen[:51])

    # Routing status of one user.
    if seen:
        r = call(client, users_api.get_user_routingstatus, "RoutingStatus", "routingstatus",
                 user_id=seen[0])
        if r is not None:
            check_routing(r, "routingstatus")

    # Membership.
    groups_api = sdk.GroupsApi(client)
    members = call(client, groups_api.get_group_members, "UserEntityListing", "group_members",
                   group_id=a.group_id, page_size=25, page_number=1,
                   expand=["presence", "routingStatus"])
    if members is not None:
        required(members, ["entities", "total"], "group_members")
        if not members.entities:
            problem("group_members: no members")
        for i, u in enumerate(members.entities or []):
            required(u, ["id", "presence", "routing_status"], f"group_members[{i}]")
    individuals = call(client, groups_api.get_group_individuals, "UserEntityListing",
                       "group_individuals", group_id=a.group_id)
    if members is not None and individuals is not None and individuals.total != members.total:
        problem(f"group_individuals: total {individuals.total} != members {members.total}")
    routing_api = sdk.RoutingApi(client)
    qm = call(client, routing_api.get_routing_queue_members, "QueueMemberEntityListing",
              "queue_members", queue_id=a.queue_id, page_size=100, page_number=1)
    if qm is not None:
        if not qm.entities:
            problem("queue_members: no members")
        for i, m in enumerate(qm.entities or []):
            required(m, ["id", "user", "joined", "routing_status"], f"queue_members[{i}]")
            if m.user is not None:
                required(m.user, ["id"], f"queue_members[{i}].user")

    # The org id for the snapshot events' source.
    org = call(client, sdk.OrganizationApi(client).get_organizations_me, "Organization",
               "organizations_me")
    if org is not None and org.id != a.org_id:
        problem(f"organizations_me: id {org.id!r}, expected {a.org_id!r}")

    # A token the stand-in never issued.
    bad = sdk.api_client.ApiClient()
    bad.access_token = "not-a-token"
    check_error(bad, sdk.OrganizationApi(bad).get_organizations_me, 401, "bad.credentials",
                "bad_token")

    if PROBLEMS:
        for p in PROBLEMS:
            print(f"contract: {p}")
        return 1
    print(f"ok: {len(seen)} users in {page_number} pages ({with_employee_id} with an employee "
          f"id), {len(bulk or [])} bulk presences, "
          f"{len(members.entities) if members else 0} group members, "
          f"{len(qm.entities) if qm else 0} queue members, org {org.id if org else '?'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
