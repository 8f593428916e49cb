/**
 * Every way a write can fail, declared together: what the caller of a deploy is told. The
 * remote's answer (`answer`) is a few words for logs, never credentials.
 */
import { KipError, isKipError } from '../errors.js';

/** The caller went away: nobody reads this, it only ends the promise. */
export function withdrawnError(): KipError {
  return new KipError('REPO_UNAVAILABLE', 'the request was withdrawn by its caller before it was pushed', {
    answer: 'withdrawn',
  });
}

/** The edit's deadline passed before a push carrying it was confirmed; `lastError`: what the remote said last. */
export function deadlineError(
  timeoutMs: number,
  lastError: KipError | null,
  { attempts, uncertain }: { attempts: number; uncertain: boolean },
): KipError {
  const lastAnswer = String(lastError?.data.answer ?? 'no answer');
  // After a push whose answer was lost, the change may be in the remote: a retry is safe
  // either way (it answers unchanged if it landed).
  const outcome = uncertain
    ? 'it may have been written: retry (a retry answers unchanged if it was)'
    : 'nothing was written, retry later';
  return new KipError(
    'REPO_UNAVAILABLE',
    `the config repo did not confirm the change within ${Math.round(timeoutMs / 1000)} s (last answer: ${lastAnswer}); ${outcome}`,
    { retryAfter: 10, answer: lastAnswer, attempts },
  );
}

/** PUSH_REJECTED (409): every push of the batch lost its compare-and-swap. */
export function rejectedError(rejections: number, answer: string): KipError {
  return new KipError(
    'PUSH_REJECTED',
    `the config repo kept moving: ${rejections} pushes rejected (${answer}); retry later`,
    {
      retryAfter: 5,
      answer,
    },
  );
}

/**
 * PUSH_DECLINED (502): the remote refused the push for policy. The answer carries the
 * remote's own lines (`remote`), which say why and what to do (e.g. GitHub's `GH006:
 * Protected branch update failed`, a hook's `POLICY-REJECT: …`).
 */
export function declinedError(reason: string, messages: readonly string[]): KipError {
  const said = messages.length > 0 ? `: ${messages.join(' / ')}` : '';
  return new KipError(
    'PUSH_DECLINED',
    `the config repo declined the push (${reason})${said}; nothing was written. A hook or branch protection refuses the bridge's pushes: ` +
      `let the bridge's identity push to the branch, or lift the rule`,
    { answer: reason, body: { remote: messages.join('\n') } },
  );
}

/** A push that got no answer (network, timeout, 5xx): kept as the queue's last error until something succeeds. */
export function noAnswerError(detail: string, answer: string): KipError {
  return new KipError('REPO_UNAVAILABLE', `the config repo is unreachable: ${detail}`, { retryAfter: 10, answer });
}

/** A fetch that failed without saying how (the remote layer classifies what it knows). */
export function fetchError(err: unknown): KipError {
  return isKipError(err)
    ? err
    : new KipError('REPO_UNAVAILABLE', 'the config repo could not be fetched', { answer: 'error' });
}

/** The batch gave up after maxUnreachable attempts without an answer. */
export function unreachableError(err: unknown, answer: string): KipError {
  const message = err instanceof Error ? err.message : 'the config repo is unreachable';
  return new KipError('REPO_UNAVAILABLE', message, { retryAfter: 10, answer });
}

/**
 * An error the remote layer did not classify (a disk error writing our packs, a bug): its
 * outcome is unknown, so the callers get 503 and a retry is safe (it deploys, or answers
 * unchanged if the push did land).
 */
export function unclassifiedError(err: unknown): KipError {
  const reason = err instanceof Error ? err.message : String(err);
  return new KipError('REPO_UNAVAILABLE', `writing to the config repo failed: ${reason}`, {
    retryAfter: 10,
    answer: 'error',
  });
}

/** Only a bug gets the drain loop itself to throw: every waiting caller is still answered. */
export function queueFailedError(err: unknown): KipError {
  return isKipError(err)
    ? err
    : new KipError('INTERNAL', `the write queue failed: ${err instanceof Error ? err.message : String(err)}`);
}
