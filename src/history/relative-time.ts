/** Days in an average month (365.25 / 12): 30 days is then "1 month", 364 "11 months". */
const DAYS_PER_MONTH = 30.4375;

/**
 * "2 min ago", "1 hour ago", "3 days ago", "11 months ago", "2 years ago": how Kipper's
 * history says WHEN. Each unit counts whole units passed, months from 30 days up to the
 * first whole year; "unknown" for a timestamp that does not parse.
 */
export function relativeTime(iso: string, now: number = Date.now()): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return 'unknown';
  const seconds = Math.max(0, Math.floor((now - at) / 1000));
  if (seconds < 60) return `${seconds} sec ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} ${hours === 1 ? 'hour' : 'hours'} ago`;
  const days = Math.floor(hours / 24);
  if (days < 30) return `${days} ${days === 1 ? 'day' : 'days'} ago`;
  if (days < 365) {
    // Up to 11: 360–364 days are not yet a year, and "12 months" would read as one.
    const months = Math.min(11, Math.max(1, Math.floor(days / DAYS_PER_MONTH)));
    return `${months} ${months === 1 ? 'month' : 'months'} ago`;
  }
  const years = Math.floor(days / 365);
  return `${years} ${years === 1 ? 'year' : 'years'} ago`;
}
