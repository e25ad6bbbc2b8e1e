/**
 * The pure rules behind the task routes: Batch filters, the task view and its attempts, the
 * continuation token, the Range header, ranges against a file's size, and file paths.
 */
import { describe, expect, it } from 'vitest';
import type { TaskInfo } from '../../shared/adapters/batch/batch-gateway.js';
import { taskFilterText, toTaskInfo } from '../../shared/adapters/batch/batch-gateway-rest.js';
import { contentRange, parseRangeHeader } from '../../shared/interfaces/http/byte-range.js';
import { decodeContinuation, encodeContinuation } from '../../shared/usecases/list-tasks.js';
import {
  checkTaskFilePath,
  MAX_FILE_READ_BYTES,
  resolveRange,
} from '../../shared/usecases/read-task-file.js';
import { attemptsOf, MAX_ATTEMPTS_SHOWN, toTaskItem } from '../../shared/usecases/task-view.js';

const task = (over: Partial<TaskInfo>): TaskInfo => ({
  id: 't',
  state: 'completed',
  requiredSlots: 1,
  retryCount: 0,
  requeueCount: 0,
  ...over,
});

describe('Batch task filters', () => {
  it('say each state and result in Batch OData, running with preparing', () => {
    expect(taskFilterText({})).toBeUndefined();
    expect(taskFilterText({ state: 'active' })).toBe("state eq 'active'");
    expect(taskFilterText({ state: 'running' })).toBe("(state eq 'preparing' or state eq 'running')");
    expect(taskFilterText({ state: 'completed', result: 'failure' })).toBe(
      "state eq 'completed' and executionInfo/result eq 'failure'",
    );
    expect(taskFilterText({ result: 'success' })).toBe("executionInfo/result eq 'success'");
  });
});

describe('the task view', () => {
  it("reads Batch's wire task, keeping only what the item shows", () => {
    const info = toTaskInfo({
      id: 'b1',
      state: 'completed',
      requiredSlots: 2,
      executionInfo: {
        startTime: '2026-01-01T00:00:00Z',
        endTime: '2026-01-01T00:01:00Z',
        exitCode: 3,
        result: 'failure',
        retryCount: 1,
        requeueCount: 2,
        failureInfo: { category: 'usererror', code: 'FailureExitCode', message: 'exit 3' },
      },
      nodeInfo: { nodeId: 'tvm-1' },
    });
    expect(toTaskItem('job 1', 'b1', info)).toEqual({
      id: 'b1',
      state: 'completed',
      result: 'failure',
      exitCode: 3,
      failure: { category: 'usererror', code: 'FailureExitCode', message: 'exit 3' },
      retryCount: 1,
      requeueCount: 2,
      nodeId: 'tvm-1',
      startTime: '2026-01-01T00:00:00Z',
      endTime: '2026-01-01T00:01:00Z',
      requiredSlots: 2,
      links: {
        self: '/api/jobs/job%201/tasks/b1',
        stdout: '/api/jobs/job%201/tasks/b1/files/stdout.txt',
        stderr: '/api/jobs/job%201/tasks/b1/files/stderr.txt',
        outputs: '/api/jobs/job%201/outputs?prefix=b1%2F',
      },
    });
  });

  it('lists no attempt for a task that never ran', () => {
    expect(attemptsOf(task({ state: 'active' }))).toEqual([]);
    // Ended without running (its job was terminated first).
    expect(attemptsOf(task({ state: 'completed', result: 'failure' }))).toEqual([]);
  });

  it('describes the latest attempt and numbers the earlier ones, which all failed', () => {
    const done = task({
      retryCount: 2,
      startTime: 's',
      endTime: 'e',
      exitCode: 5,
      result: 'failure',
      nodeId: 'n',
    });
    expect(attemptsOf(done)).toEqual([
      { attempt: 1, result: 'failure' },
      { attempt: 2, result: 'failure' },
      { attempt: 3, startTime: 's', endTime: 'e', exitCode: 5, result: 'failure', nodeId: 'n' },
    ]);
    // Back in the queue for its retry: the attempt Batch describes is the failed one.
    expect(attemptsOf(task({ state: 'active', retryCount: 1, exitCode: 5 }))).toEqual([
      { attempt: 1, exitCode: 5, result: 'failure' },
    ]);
    expect(attemptsOf(task({ state: 'running', retryCount: 1, startTime: 's2' }))).toEqual([
      { attempt: 1, result: 'failure' },
      { attempt: 2, startTime: 's2' },
    ]);
  });

  it('shows at most the last 100 attempts', () => {
    const many = attemptsOf(task({ retryCount: 500, startTime: 's', result: 'success', exitCode: 0 }));
    expect(many).toHaveLength(MAX_ATTEMPTS_SHOWN);
    expect(many[0]?.attempt).toBe(402);
    expect(many.at(-1)).toMatchObject({ attempt: 501, result: 'success' });
  });
});

describe('the task list continuation', () => {
  it("carries Batch's skip token for the same Batch job and filters only", () => {
    const c = encodeContinuation('p1000', 'dev_j1', { state: 'completed' });
    expect(decodeContinuation(c, 'dev_j1', { state: 'completed' })).toEqual({ skipToken: 'p1000' });
    expect(decodeContinuation(c, 'dev_j1', { state: 'completed', result: 'failure' })).toHaveProperty(
      'error',
    );
    expect(decodeContinuation(c, 'dev_j1_attempt2', { state: 'completed' })).toHaveProperty('error');
  });

  it('refuses what is not one (a URL, garbage, an empty token, an over-long one)', () => {
    for (const text of [
      'https://evil.example/jobs/x/tasks',
      '!!!',
      Buffer.from('{"s":"","b":"x","f":"|"}').toString('base64url'),
      Buffer.from(JSON.stringify({ s: 'x'.repeat(5000), b: 'x', f: '|' })).toString('base64url'),
    ])
      expect(decodeContinuation(text, 'dev_j1', {}), text.slice(0, 40)).toHaveProperty('error');
  });
});

describe('the Range header', () => {
  it('takes one byte range in its three forms', () => {
    expect(parseRangeHeader(null)).toBeUndefined();
    expect(parseRangeHeader('bytes=0-99')).toEqual({ kind: 'from', start: 0, end: 99 });
    expect(parseRangeHeader('bytes=100-')).toEqual({ kind: 'from', start: 100 });
    expect(parseRangeHeader('bytes=-500')).toEqual({ kind: 'suffix', length: 500 });
    expect(parseRangeHeader(' Bytes = 5 - 9 ')).toEqual({ kind: 'from', start: 5, end: 9 });
  });

  it('refuses other units, several ranges, an end before the start and huge numbers', () => {
    for (const value of [
      'items=0-1',
      'bytes=0-1,5-6',
      'bytes=9-5',
      'bytes=-',
      'bytes=0x10-',
      'bytes=1e3-',
      'bytes=9999999999999999-',
    ])
      expect(parseRangeHeader(value), value).toHaveProperty('error');
  });

  it('resolves against the size: a part, the first 4 MiB, or nothing (416)', () => {
    expect(resolveRange(undefined, 10)).toEqual({ start: 0, end: 9, partial: false });
    expect(resolveRange(undefined, 0)).toEqual({ start: 0, end: -1, partial: false });
    expect(resolveRange(undefined, MAX_FILE_READ_BYTES + 1)).toEqual({
      start: 0,
      end: MAX_FILE_READ_BYTES - 1,
      partial: true,
    });
    expect(resolveRange({ kind: 'from', start: 2, end: 100 }, 10)).toEqual({
      start: 2,
      end: 9,
      partial: true,
    });
    expect(resolveRange({ kind: 'from', start: 10 }, 10)).toBe('unsatisfiable');
    expect(resolveRange({ kind: 'suffix', length: 3 }, 10)).toEqual({ start: 7, end: 9, partial: true });
    expect(resolveRange({ kind: 'suffix', length: 30 }, 10)).toEqual({ start: 0, end: 9, partial: true });
    expect(resolveRange({ kind: 'suffix', length: 0 }, 10)).toBe('unsatisfiable');
    expect(resolveRange({ kind: 'from', start: 0 }, 5 * MAX_FILE_READ_BYTES)).toEqual({
      start: 0,
      end: MAX_FILE_READ_BYTES - 1,
      partial: true,
    });
    expect(contentRange(7, 3, 10)).toBe('bytes 7-9/10');
    expect(contentRange(0, 0, 10)).toBe('bytes */10');
  });
});

describe('task file paths', () => {
  it('take a file of the task directory', () => {
    for (const ok of ['stdout.txt', 'stderr.txt', 'wd/out.txt', 'wd/a b/c..d.txt'])
      expect(checkTaskFilePath(ok), ok).toBeUndefined();
  });

  it('refuse what leaves it or is not a plain relative path', () => {
    for (const bad of [
      '',
      '/etc/passwd',
      '../x',
      'wd/../../x',
      'wd/./x',
      'a//b',
      'C:/x',
      'wd\\x',
      'a\u0000b',
      'x'.repeat(1025),
    ])
      expect(checkTaskFilePath(bad), JSON.stringify(bad.slice(0, 20))).toBeDefined();
  });
});
