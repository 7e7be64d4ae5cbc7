import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deploymentSchema } from '../../config/schema/deployment';
import { calendarState, type DeployCalendar } from '../../decisions/calendar';

const weekdays9to5: DeployCalendar = { timeZone: 'Europe/Berlin', windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00' }] };
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

describe('when new work may start (decisions/calendar.ts calendarState)', () => {
  const cases: Array<[string, DeployCalendar, string, { open: boolean; why: RegExp | null; changesAt: string | null }]> = [
    ['no windows, no freezes: always open', { timeZone: 'UTC' }, '2026-12-05T03:00:00Z', { open: true, why: null, changesAt: null }],
    ['Friday 16:30 Berlin: open, closes at 17:00 Berlin (16:00Z)', weekdays9to5, '2026-12-04T15:30:00Z', { open: true, why: null, changesAt: '2026-12-04T16:00:00.000Z' }],
    ['Friday 17:30 Berlin: closed for the weekend, opens Monday 09:00 Berlin', weekdays9to5, '2026-12-04T16:30:00Z', { open: false, why: /^outside the deploy windows \(mon,tue,wed,thu,fri 09:00-17:00 Europe\/Berlin\)$/, changesAt: '2026-12-07T08:00:00.000Z' }],
    ['across the spring clock change: Monday 09:00 Berlin is 07:00Z after it', weekdays9to5, '2027-03-27T12:00:00Z', { open: false, why: /outside/, changesAt: '2027-03-29T07:00:00.000Z' }],
    ['a half-hour time zone and an odd minute: Monday 09:10 Kolkata is 03:40Z', { timeZone: 'Asia/Kolkata', windows: [{ days: ['mon'], from: '09:10', to: '17:00' }] }, '2026-12-04T16:30:00Z', { open: false, why: /outside/, changesAt: '2026-12-07T03:40:00.000Z' }],
    [
      'a freeze inside a window closes it, with its reason, until the freeze ends',
      { ...weekdays9to5, freezes: [{ from: '2026-12-04T10:00:00Z', to: '2026-12-04T12:00:00Z', reason: 'release freeze' }] },
      '2026-12-04T11:00:00Z',
      { open: false, why: /^calendar freeze until 2026-12-04T12:00:00Z: release freeze$/, changesAt: '2026-12-04T12:00:00.000Z' },
    ],
    [
      'a freeze that ends outside the windows: the next change is the window opening',
      { ...weekdays9to5, freezes: [{ from: '2026-12-04T10:00:00Z', to: '2026-12-04T20:00:00Z', reason: 'incident' }] },
      '2026-12-04T11:00:00Z',
      { open: false, why: /incident/, changesAt: '2026-12-04T20:00:00.000Z' },
    ],
    [
      'a freeze longer than the horizon: closed, no change in sight (the week looks again later)',
      { timeZone: 'UTC', freezes: [{ from: '2026-12-20T00:00:00Z', to: '2027-01-10T00:00:00Z', reason: 'holidays' }] },
      '2026-12-24T00:00:00Z',
      { open: false, why: /holidays/, changesAt: null },
    ],
    ['a cron window ("0 9 * * 1-5" for 8 h, Berlin), Friday 16:30: open, closes at 17:00 Berlin', { timeZone: 'Europe/Berlin', windows: [{ cron: '0 9 * * 1-5', forMinutes: 480 }] }, '2026-12-04T15:30:00Z', { open: true, why: null, changesAt: '2026-12-04T16:00:00.000Z' }],
    ['the same cron window, Friday 17:30: closed, opens Monday 09:00 Berlin', { timeZone: 'Europe/Berlin', windows: [{ cron: '0 9 * * 1-5', forMinutes: 480 }] }, '2026-12-04T16:30:00Z', { open: false, why: /"0 9 \* \* 1-5" for 480 min/, changesAt: '2026-12-07T08:00:00.000Z' }],
    ['a freeze ahead: open now, closes as it starts', { timeZone: 'UTC', freezes: [{ from: '2026-12-20T00:00:00Z', to: '2027-01-04T00:00:00Z', reason: 'holidays' }] }, '2026-12-18T00:00:00Z', { open: true, why: null, changesAt: '2026-12-20T00:00:00.000Z' }],
  ];
  for (const [name, c, at, want] of cases) {
    it(name, () => {
      const s = calendarState(c, Date.parse(at));
      assert.equal(s.open, want.open);
      if (want.why) assert.match(s.why ?? '', want.why);
      else assert.equal(s.why, null);
      assert.equal(iso(s.changesAtMs), want.changesAt);
    });
  }
});

describe("the deployment's calendar (config/schema/deployment.ts)", () => {
  const base = { controlTaskQueue: 'q', inventory: 'inventory.json', catalogues: {} };
  const refused: Array<[string, object, string, RegExp]> = [
    ['an unknown time zone', { timeZone: 'Mars/Olympus' }, 'calendar.timeZone', /not a time zone/],
    ['a window that ends before it starts', { timeZone: 'UTC', windows: [{ days: ['mon'], from: '17:00', to: '09:00' }] }, 'calendar.windows.0.to', /not after 17:00.*write two/],
    ['a time of day that is not HH:MM', { timeZone: 'UTC', windows: [{ days: ['mon'], from: '9am', to: '17:00' }] }, 'calendar.windows.0.from', /HH:MM/],
    ['an unknown day', { timeZone: 'UTC', windows: [{ days: ['funday'], from: '09:00', to: '17:00' }] }, 'calendar.windows.0.days.0', /mon|Invalid/],
    ['a cron expression that does not parse', { timeZone: 'UTC', windows: [{ cron: '61 9 * * *', forMinutes: 60 }] }, 'calendar.windows.0.cron', /61/],
    ['a cron expression with six fields', { timeZone: 'UTC', windows: [{ cron: '0 0 9 * * *', forMinutes: 60 }] }, 'calendar.windows.0.cron', /five fields/],
    ['a freeze without an offset', { timeZone: 'UTC', freezes: [{ from: '2026-12-24T00:00:00', to: '2026-12-27T00:00:00Z', reason: 'x' }] }, 'calendar.freezes.0.from', /with its offset/],
    ['a freeze that ends before it starts', { timeZone: 'UTC', freezes: [{ from: '2026-12-27T00:00:00Z', to: '2026-12-24T00:00:00Z', reason: 'x' }] }, 'calendar.freezes.0.to', /not after/],
  ];
  for (const [name, calendar, path, message] of refused) {
    it(`refused, naming the field: ${name}`, () => {
      const r = deploymentSchema.safeParse({ ...base, calendar });
      assert.equal(r.success, false);
      const issue = r.error!.issues.find((i) => i.path.join('.') === path);
      assert.ok(issue, `an issue at ${path}: ${JSON.stringify(r.error!.issues)}`);
      assert.match(issue.message, message);
    });
  }
});
