// names.js -- the admin page's words for hookd's values (the spec's own labels).

export const APPLICATIONS = [
  { value: 'APPLICATION_ENTERPRISE', key: 'enterprise', label: 'Enterprise' },
  { value: 'APPLICATION_ELITE', key: 'elite', label: 'Elite' },
];

export function applicationLabel(value) {
  return APPLICATIONS.find((a) => a.value === value)?.label || '-';
}

export function applicationFromKey(key) {
  return APPLICATIONS.find((a) => a.key === String(key || '').toLowerCase())?.value || '';
}

const STATES = {
  DELIVERY_STATE_PENDING: 'Pending',
  DELIVERY_STATE_SUCCEEDED: 'Succeeded',
  DELIVERY_STATE_FAILED: 'Failed',
  DELIVERY_STATE_CANCELLED: 'Cancelled',
};
export const stateLabel = (s) => STATES[s] || '-';

const OUTCOMES = {
  OUTCOME_SUCCEEDED: 'Succeeded',
  OUTCOME_HTTP_ERROR: 'HTTP error',
  OUTCOME_TIMED_OUT: 'Timed out',
  OUTCOME_NETWORK_ERROR: 'Network error',
  OUTCOME_REFUSED: 'Refused by policy',
  OUTCOME_CANCELLED: 'Cancelled',
};
export const outcomeLabel = (o) => OUTCOMES[o] || '-';

// proto3 JSON gives int64 times as strings of epoch milliseconds; absent means 0.
export function timeLabel(ms) {
  const n = Number(ms || 0);
  return n ? new Date(n).toLocaleString() : '-';
}

// Trigger-action display names, by application and key, from ListTriggerActions.
export class Catalog {
  constructor(actions = []) {
    this.actions = actions;
  }
  of(application) {
    return this.actions.filter((a) => a.application === application);
  }
  label(application, key) {
    return this.actions.find((a) => a.application === application && a.key === key)?.displayName || key;
  }
}
