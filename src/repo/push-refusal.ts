/**
 * Telling a lost race from a refusal in receive-pack's `ng <ref> <reason>`
 * (https://git-scm.com/docs/gitprotocol-pack#_report_status). A lost compare-and-swap is
 * worth a fetch and another try; a hook or a protected branch saying no is policy, and
 * 25 more pushes only hide its reason for 30 s (issue #18).
 */

/**
 * The reasons git's receive-pack gives when the ref was not where the push said it was:
 * the branch moved (`non-fast-forward`, `fetch first`), its lock was held
 * (`failed to lock`, `cannot lock ref`), or the old value no longer matched
 * (`failed to update ref`, `stale info`, `incorrect old value provided`). Anything else
 * (`pre-receive hook declined`, `hook declined`, `protected branch hook declined`,
 * `deny updating a hidden ref`, `deletion prohibited`, …) is a refusal.
 */
const LOST_RACE =
  /non-fast-forward|fetch first|failed to (update|lock)|cannot lock|stale info|incorrect old value|but expected/i;

/** True when `reason` says the branch moved under the push, not that the push was refused. */
export function isLostRace(reason: string): boolean {
  return LOST_RACE.test(reason);
}

/** At most this many lines of what the remote printed are kept, each at most this long. */
const MAX_LINES = 20;
const MAX_LINE = 300;

/**
 * The remote's own lines for a person to read: control characters (a hook's colours, a
 * terminal title sequence) removed, credentials redacted, bounded in size.
 */
export function remoteMessages(lines: readonly string[], redact: (s: string) => string): string[] {
  return lines
    .map((line) =>
      redact(
        line
          // eslint-disable-next-line no-control-regex -- escape sequences, then every other control character
          .replace(/\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(\u0007|\u001b\\)?/g, '')
          // eslint-disable-next-line no-control-regex -- see above
          .replace(/[\u0000-\u001f\u007f-\u009f]/g, ''),
      ).slice(0, MAX_LINE),
    )
    .filter((line) => line.trim().length > 0)
    .slice(0, MAX_LINES);
}
