// Types of the parser's own module (decisions/calendar.ts imports it alone, not the package's index).
declare module 'cron-parser/dist/CronExpressionParser' {
  export { CronExpressionParser } from 'cron-parser';
}
