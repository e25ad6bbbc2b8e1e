#!/usr/bin/env python3
"""Drives Slotwise's GA4GH TES 1.1 API with py-tes, the reference Python client.

py-tes builds its models with ``Cls(**json)`` (``tes/utils.py`` ``unmarshal``), so any field the spec
does not name fails the call: every answer read here is also a check that the API speaks TES 1.1
exactly. Run by test/tes/pytes-interop.test.ts against the local stack; by hand:

    TES_URL=http://127.0.0.1:7071/api TES_KEY=dev-key TES_TENANT=dev \\
      test-artifacts/tes-venv/bin/python test/tes/interop/pytes_client.py

Environment:
    TES_URL              the base py-tes is given (it tries <base>/ga4gh/tes/v1 first)
    TES_KEY              the tenant's API key
    TES_TENANT           the tenant id, the HTTP Basic user (default: dev)
    TES_TIMEOUT_SECONDS  how long a task may take to reach a state (default: 120)

Everything runs twice: with ``token=`` (Authorization: Bearer) and with ``user=``/``password=``
(HTTP Basic). It prints one JSON summary on stdout and exits 0, or prints the failure (the step and
why) and exits 1.
"""

import json
import os
import sys
import time

import tes

GREETING = "hello from py-tes"
CONTENT = "staged by py-tes\n"
FINAL = {"COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED", "PREEMPTED"}


class Failure(Exception):
    """A check that did not hold, with the step it was in."""


def check(condition, message):
    if not condition:
        raise Failure(message)


def poll_state(client, task_id, wanted, timeout):
    """Polls MINIMAL until the task is in one of `wanted`; the states seen on the way, in order.

    py-tes's own wait() stops at any state but QUEUED, INITIALIZING and RUNNING, CANCELING included,
    so a cancel is followed here.
    """
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        state = client.get_task(task_id, "MINIMAL").state
        if not seen or seen[-1] != state:
            seen.append(state)
        if state in wanted:
            return seen
        check(state not in FINAL, f"task {task_id} ended {state} while waiting for {sorted(wanted)} (seen {seen})")
        check(time.monotonic() < deadline, f"task {task_id} not in {sorted(wanted)} after {timeout:.0f}s (seen {seen})")
        time.sleep(0.2)


def run(auth, client, timeout):
    """One round of every call with one client; the facts the summary reports."""
    out = {"auth": auth}

    info = client.get_service_info()
    check(info.type and info.type.get("artifact") == "tes", f"service-info type is {info.type}")
    out["service_info"] = {"name": info.name, "type": info.type, "storage": info.storage}

    task = tes.Task(
        name=f"pytes-{auth}",
        description="py-tes interop",
        tags={"suite": "pytes-interop", "auth": auth},
        inputs=[tes.Input(path="/data/in.txt", content=CONTENT)],
        executors=[tes.Executor(image="alpine", command=["sh", "-c", f"echo {GREETING}"])],
    )
    task_id = client.create_task(task)
    check(isinstance(task_id, str) and task_id, f"create answered id {task_id!r}")
    out["task_id"] = task_id

    ended = client.wait(task_id, timeout=timeout)
    out["state"] = ended.state

    minimal = client.get_task(task_id, "MINIMAL")
    basic = client.get_task(task_id, "BASIC")
    full = client.get_task(task_id, "FULL")
    system_logs = [line for log in (full.logs or []) for line in (log.system_logs or [])]
    check(ended.state == "COMPLETE", f"task {task_id} ended {ended.state}; system_logs: {system_logs}")

    check(minimal.id == task_id and minimal.state == "COMPLETE", f"MINIMAL is {minimal.as_dict()}")
    check(minimal.name is None and minimal.executors is None, f"MINIMAL has more than id and state: {minimal.as_dict()}")
    check(basic.name == f"pytes-{auth}", f"BASIC name is {basic.name!r}")
    check(basic.tags == {"suite": "pytes-interop", "auth": auth}, f"BASIC tags are {basic.tags}")
    check(basic.executors and basic.executors[0].command == ["sh", "-c", f"echo {GREETING}"], "BASIC executors differ")
    check(basic.inputs and basic.inputs[0].path == "/data/in.txt", f"BASIC inputs are {basic.inputs}")
    check(basic.inputs[0].content is None, "BASIC shows the input's content (FULL only)")
    check(basic.creation_time is not None, "BASIC has no creation_time")
    check(full.inputs[0].content == CONTENT, f"FULL input content is {full.inputs[0].content!r}")
    check(full.logs, "FULL has no task logs")
    executor_logs = full.logs[-1].logs or []
    check(len(executor_logs) == 1, f"FULL has {len(executor_logs)} executor logs, not 1")
    log = executor_logs[0]
    check(log.exit_code == 0, f"the executor's exit_code is {log.exit_code}")
    check(GREETING in (log.stdout or ""), f"the executor's stdout tail is {log.stdout!r}")
    out["views"] = {
        "MINIMAL": sorted(minimal.as_dict()),
        "BASIC": sorted(basic.as_dict()),
        "FULL": sorted(full.as_dict()),
    }
    out["exit_code"] = log.exit_code
    out["stdout"] = log.stdout

    # The long task: cancelled once Batch runs it, so the cancel goes through CANCELING.
    long_id = client.create_task(
        tes.Task(
            name=f"pytes-{auth}-long",
            tags={"suite": "pytes-interop", "auth": auth},
            executors=[tes.Executor(image="alpine", command=["sleep", "3600"])],
        )
    )
    before = poll_state(client, long_id, {"RUNNING"}, timeout)
    client.cancel_task(long_id)
    after = poll_state(client, long_id, {"CANCELED"}, timeout)
    check(client.get_task(long_id, "BASIC").state == "CANCELED", "the cancelled task is not CANCELED in BASIC")
    states = [s for i, s in enumerate(before + after) if i == 0 or (before + after)[i - 1] != s]
    out["cancel"] = {"task_id": long_id, "states": states}

    # Every page of one task, by next_page_token; both tasks of this round are among them.
    ids, pages, token = [], 0, None
    while True:
        page = client.list_tasks(view="BASIC", page_size=1, page_token=token)
        pages += 1
        tasks = page.tasks or []
        check(len(tasks) <= 1, f"page {pages} holds {len(tasks)} tasks with page_size 1")
        ids.extend(t.id for t in tasks)
        token = page.next_page_token
        if not token:
            break
        check(pages < 100, "more than 100 pages of one task")
    check(len(ids) == len(set(ids)), f"a task is listed twice: {ids}")
    check(task_id in ids and long_id in ids, f"the list misses this round's tasks: {ids}")
    out["list"] = {"pages": pages, "tasks": len(ids)}
    return out


def main():
    base = os.environ.get("TES_URL", "")
    key = os.environ.get("TES_KEY", "")
    tenant = os.environ.get("TES_TENANT", "dev")
    timeout = float(os.environ.get("TES_TIMEOUT_SECONDS", "120"))
    if not base or not key:
        print("TES_URL and TES_KEY must be set", file=sys.stderr)
        return 2
    summary = {"ok": False, "py_tes": tes.__version__, "url": base, "runs": []}
    clients = [
        ("bearer", tes.HTTPClient(base, token=key)),
        ("basic", tes.HTTPClient(base, user=tenant, password=key)),
    ]
    for auth, client in clients:
        try:
            summary["runs"].append(run(auth, client, timeout))
        except Exception as e:  # any failure: py-tes's own (unmarshal, HTTP) or a check
            reason = f"{type(e).__name__}: {e}"
            summary["error"] = {"auth": auth, "reason": reason}
            print(json.dumps(summary, default=str))
            print(f"py-tes interop FAILED ({auth}): {reason}", file=sys.stderr)
            return 1
    summary["ok"] = True
    print(json.dumps(summary, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
