/**
 * Sizing a Secrets Manager `cron(...)` rotation schedule: the longest gap between two days it
 * fires on. Fields: minutes hours day-of-month month day-of-week year; day-of-week 1-7 is
 * SUN-SAT. Supported: `*`, `?`, lists, ranges, steps, month and day names, `L` (last day of the
 * month), `nL` (last weekday n of the month) and `n#k` (k-th weekday n). Anything else (`W`) is
 * not sized, and says so.
 * @module
 */

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** Which days of one month a field allows, given the month's shape. */
type DayTest = (day: number, weekday: number, daysInMonth: number) => boolean;

/** The values `part` (`*`, `5`, `1-5`, `*\/2`, `MON-FRI`) allows within `[min, max]`. */
function values(part: string, min: number, max: number, names: readonly string[]): Set<number> {
  const out = new Set<number>();
  const value = (text: string): number => {
    const named = names.indexOf(text.toUpperCase());
    const n = named >= 0 ? named + min : /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!(n >= min && n <= max)) throw new RangeError(text);
    return n;
  };
  for (const item of part.split(',')) {
    const [range = '', stepText] = item.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new RangeError(item);
    let from: number;
    let to: number;
    if (range === '*' || range === '?') [from, to] = [min, max];
    else if (range.includes('-')) {
      const [a = '', b = ''] = range.split('-');
      [from, to] = [value(a), value(b)];
    } else [from, to] = [value(range), stepText === undefined ? value(range) : max];
    if (from > to) throw new RangeError(item);
    for (let n = from; n <= to; n += step) out.add(n);
  }
  return out;
}

function dayOfMonthTest(field: string): DayTest {
  if (field === 'L') return (day, _w, days) => day === days;
  const allowed = values(field, 1, 31, []);
  return (day) => allowed.has(day);
}

function dayOfWeekTest(field: string): DayTest {
  const last = /^([1-7A-Za-z]{1,3})L$/.exec(field);
  if (last) {
    const weekday = [...values(last[1] ?? '', 1, 7, WEEKDAYS)][0] ?? 0;
    return (day, w, days) => w + 1 === weekday && day + 7 > days;
  }
  const nth = /^([1-7A-Za-z]{1,3})#([1-5])$/.exec(field);
  if (nth) {
    const weekday = [...values(nth[1] ?? '', 1, 7, WEEKDAYS)][0] ?? 0;
    const k = Number(nth[2]);
    return (day, w) => w + 1 === weekday && Math.ceil(day / 7) === k;
  }
  const allowed = values(field, 1, 7, WEEKDAYS);
  return (_d, w) => allowed.has(w + 1);
}

/**
 * The longest gap in days between two firing days of `expression` over the `horizonDays` days
 * from `from` (including the wait until the first one), or `undefined` when the expression
 * cannot be sized (a field this parser does not read, or no firing at all in the horizon).
 */
export function cronGapDays(
  expression: string,
  from: Date,
  horizonDays = 3 * 366,
): number | undefined {
  const m = /^cron\((.+)\)$/.exec(expression.trim());
  if (m === null) return undefined;
  const fields = (m[1] ?? '').trim().split(/\s+/);
  if (fields.length !== 6) return undefined;
  const [minutes = '', hours = '', dom = '', month = '', dow = '', year = ''] = fields;
  try {
    // Minutes and hours only need to allow some time of the day.
    if (values(minutes, 0, 59, []).size === 0 || values(hours, 0, 23, []).size === 0)
      return undefined;
    const months = values(month, 1, 12, MONTHS);
    const years = values(year, 1970, 2199, []);
    const byDom = dom === '?' ? undefined : dayOfMonthTest(dom);
    const byDow = dow === '?' ? undefined : dayOfWeekTest(dow);
    let last = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
    let longest = 0;
    let fired = false;
    const dayMs = 86_400_000;
    for (let i = 0; i <= horizonDays; i++) {
      const t = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate() + i);
      const d = new Date(t);
      const days = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
      const ok =
        years.has(d.getUTCFullYear()) &&
        months.has(d.getUTCMonth() + 1) &&
        (byDom?.(d.getUTCDate(), d.getUTCDay(), days) ?? true) &&
        (byDow?.(d.getUTCDate(), d.getUTCDay(), days) ?? true);
      if (!ok) continue;
      longest = Math.max(longest, Math.round((t - last) / dayMs));
      last = t;
      fired = true;
    }
    if (!fired) return undefined;
    // The wait after the last firing in the horizon is unknown: count it up to the horizon end.
    const end = Date.UTC(
      from.getUTCFullYear(),
      from.getUTCMonth(),
      from.getUTCDate() + horizonDays,
    );
    return Math.max(longest, Math.round((end - last) / dayMs));
  } catch {
    return undefined;
  }
}
