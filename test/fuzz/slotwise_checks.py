"""Slotwise's own schemathesis checks; run-api-fuzz.ts names this file in SCHEMATHESIS_HOOKS.

- ``problem_details``: every error answer (4xx, 5xx) of the API is RFC 9457 problem details, served
  as ``application/problem+json``, whose ``status`` is the answer's status.
- ``post_jobs_stores_only_what_it_accepts``: a POST /api/jobs changes the store only by the job it
  accepted. Around every such request (the hooks below) the launcher's store oracle
  (``SLOTWISE_FUZZ_ORACLE``: read straight from Cosmos DB, not through the API) is read before and
  after; then

  * answered 202: exactly one job document appeared, the one the answer names; no quota reservation
    appeared but the new job's;
  * any other answer (every refusal, a dry run, a replay): no job document appeared and no quota
    reservation appeared;
  * either way: no job vanished, none has another request hash or creation time, and no history was
    rewritten (the one before is a prefix of the one after).

  Sound because the fuzz runs with one worker (no other request between the two reads) and the
  backend's stages never create, delete or re-request a job nor reserve job quota: they change a
  job's state and append to its history. The "after" of one POST is the "before" of the next when no
  request went in between; the only requests the hooks do not see are schemathesis's own probes of
  the same operation without a key or with a wrong one, which must change nothing either.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from typing import Any

import schemathesis

_ORACLE = os.environ.get("SLOTWISE_FUZZ_ORACLE")
_lock = threading.Lock()
# The store before the POST /api/jobs in flight (one worker: one call at a time).
_before: dict[str, Any] | None = None
# The store as read after the last POST /api/jobs, reused as the next one's "before" while no other
# call came in between (the stages may run meanwhile; they only do what the comparison allows).
_baseline: dict[str, Any] | None = None
# Verdicts of the POST /api/jobs calls, by the response object they belong to (kept alive with it).
_verdicts: dict[int, tuple[object, str | None]] = {}


def _snapshot() -> dict[str, Any]:
    if not _ORACLE:
        raise RuntimeError("SLOTWISE_FUZZ_ORACLE is not set: run the fuzz with test/fuzz/run-api-fuzz.ts")
    with urllib.request.urlopen(f"{_ORACLE}/snapshot", timeout=30) as answer:
        return json.load(answer)


def _is_post_jobs(case: Any) -> bool:
    return case.method.upper() == "POST" and case.operation.path == "/jobs"


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    global _before, _baseline
    with _lock:
        if _is_post_jobs(case):
            _before = _baseline if _baseline is not None else _snapshot()
        else:
            _baseline = None


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    global _before, _baseline
    with _lock:
        if not _is_post_jobs(case):
            _baseline = None
            return
        before, _before = _before, None
        if before is None:
            return
        after = _snapshot()
        _baseline = after
        _verdicts[id(response)] = (response, _compare(before, after, response))
        # Only the latest few are ever looked up: checks run right after their call.
        while len(_verdicts) > 64:
            _verdicts.pop(next(iter(_verdicts)))


def _accepted_key(response: Any) -> str | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    job_id = body.get("id") if isinstance(body, dict) else None
    return f"job:{job_id.lower()}" if isinstance(job_id, str) else None


def _compare(before: dict[str, Any], after: dict[str, Any], response: Any) -> str | None:
    """What the call changed that it must not have; None when nothing."""
    problems: list[str] = []
    accepted = response.status_code == 202
    new_key = _accepted_key(response) if accepted else None
    if accepted and new_key is None:
        problems.append("a 202 answer without the job's id")

    old_jobs: dict[str, Any] = before["jobs"]
    new_jobs: dict[str, Any] = after["jobs"]
    appeared = sorted(set(new_jobs) - set(old_jobs))
    vanished = sorted(set(old_jobs) - set(new_jobs))
    if accepted:
        if len(appeared) != 1 or not appeared[0].endswith(f"/{new_key}"):
            problems.append(f"a 202 for {new_key} stored these new jobs instead of exactly it: {appeared}")
    elif appeared:
        problems.append(f"a {response.status_code} answer stored new jobs: {appeared}")
    if vanished:
        problems.append(f"jobs vanished: {vanished}")
    for key, old in old_jobs.items():
        new = new_jobs.get(key)
        if new is None:
            continue
        for field in ("requestHash", "createdAt"):
            if old.get(field) != new.get(field):
                problems.append(f"{key}: {field} changed from {old.get(field)!r} to {new.get(field)!r}")
        old_history = old.get("history") or []
        if (new.get("history") or [])[: len(old_history)] != old_history:
            problems.append(f"{key}: its history was rewritten")

    for tenant, keys in after["reservations"].items():
        added = set(keys) - set(before["reservations"].get(tenant, []))
        allowed = {new_key} if accepted else set()
        if added - allowed:
            problems.append(f"quota reservations appeared for {tenant}: {sorted(added - allowed)}")
    return "; ".join(problems) or None


@schemathesis.check
def post_jobs_stores_only_what_it_accepts(ctx: Any, response: Any, case: Any) -> bool | None:
    with _lock:
        entry = _verdicts.pop(id(response), None)
    if entry is None or entry[0] is not response:
        return None
    verdict = entry[1]
    if verdict is not None:
        raise AssertionError(f"POST /api/jobs answered {response.status_code} and changed the store: {verdict}")
    return True


@schemathesis.check
def problem_details(ctx: Any, response: Any, case: Any) -> bool | None:
    status = response.status_code
    if status < 400:
        return None
    # Not the app's answers: a method the route does not declare gets the Functions host's bare 404, a
    # body over FUNCTIONS_REQUEST_BODY_SIZE_LIMIT its bare 413, a URL over 4,096 bytes its bare 414 (the
    # API never sees any of them); and the
    # dashboard's page and assets are for browsers (a missing asset is text/plain).
    if case.method.upper() != case.operation.method.upper() or case.operation.path.startswith("/ui"):
        return None
    if status in (413, 414) and not response.content and not response.headers.get("content-type"):
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if not content_type.lower().startswith("application/problem+json"):
        raise AssertionError(f"A {status} answer is {content_type or 'without a content type'}, not application/problem+json")
    try:
        body = json.loads(response.content)
    except ValueError as e:
        raise AssertionError(f"A {status} problem is not JSON: {e}") from None
    if not isinstance(body, dict):
        raise AssertionError(f"A {status} problem is not a JSON object")
    for member in ("type", "title"):
        if not isinstance(body.get(member), str):
            raise AssertionError(f"A {status} problem lacks the string member {member!r}")
    if body.get("status") != status:
        raise AssertionError(f"A {status} answer's problem says status {body.get('status')!r}")
    errors = body.get("errors")
    if errors is not None and not (
        isinstance(errors, list)
        and all(isinstance(e, dict) and all(isinstance(e.get(k), str) for k in ("field", "pointer", "message")) for e in errors)
    ):
        raise AssertionError(f"A {status} problem's errors are not a list of {{field, pointer, message}}")
    return True
