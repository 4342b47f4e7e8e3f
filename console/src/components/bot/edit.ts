// What every section of the bot builder gets: the spec, a way to change it, the errors by the Backend's field names, and whether it may edit.
import type { BotSpec } from '../../lib/spec';

export type Errors = Record<string, string>;

export interface SectionProps {
  spec: BotSpec;
  change: (update: (spec: BotSpec) => BotSpec) => void;
  errors: Errors;
  readOnly: boolean;
}

/// A copy of `list` with item `index` replaced.
export function replaced<T>(list: T[], index: number, item: T): T[] {
  return list.map((x, i) => (i === index ? item : x));
}

/// A copy of `list` without item `index`.
export function without<T>(list: T[], index: number): T[] {
  return list.filter((_, i) => i !== index);
}
