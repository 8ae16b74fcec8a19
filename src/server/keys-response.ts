import type { StoreEvent } from '../store/event.ts';

/** etcd's v2 error code -> HTTP status; everything else is 400 (ETCD-V2-NOTES 6). */
const ERROR_STATUS: Readonly<Record<number, number>> = {
  100: 404,
  101: 412,
  102: 403,
  105: 412,
  108: 403,
  110: 401,
  300: 500,
  301: 500,
};

export function errorStatus(errorCode: number): number {
  return ERROR_STATUS[errorCode] ?? 400;
}

/** 201 for a creation (create, or set of a key that did not exist), else 200. */
export function eventStatus(event: StoreEvent): number {
  return event.action === 'create' || (event.action === 'set' && event.prevNode === undefined) ? 201 : 200;
}

/** The body of a successful keys reply: `{"action":...}` alone for writes with noValueOnSuccess. */
export function successBody(event: StoreEvent, noValueOnSuccess: boolean): string {
  const reduced = noValueOnSuccess && event.action !== 'get' && event.action !== 'delete' && event.action !== 'compareAndDelete' && event.action !== 'expire';
  return `${JSON.stringify(reduced ? { action: event.action } : event)}\n`;
}
