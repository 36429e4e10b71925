import { describe, expect, it } from 'vitest';
import {
  AUDIT_SAMPLE_SIZE,
  changedFields,
  cliActor,
  sampleIds,
} from '../../../../src/modules/audit/audit.service.js';

describe('sampleIds', () => {
  it('keeps distinct ids in order, at most AUDIT_SAMPLE_SIZE, without empty values', () => {
    expect(sampleIds(['3', '1', '3', null, undefined, '', 2])).toEqual(['3', '1', '2']);
    const many = Array.from({ length: 10_000 }, (_, i) => String(i));
    expect(sampleIds(many)).toEqual(many.slice(0, AUDIT_SAMPLE_SIZE));
    expect(sampleIds(null)).toEqual([]);
  });
});

describe('changedFields', () => {
  it('keeps only the fields that changed, before and after', () => {
    expect(
      changedFields(
        { name: 'a', color: null, definition: { op: 'AND', of: [1] }, enabled: true },
        { name: 'b', color: '#fff', definition: { op: 'AND', of: [1] }, enabled: true },
      ),
    ).toEqual({ before: { name: 'a', color: null }, after: { name: 'b', color: '#fff' } });
  });

  it('treats a missing row as all fields null', () => {
    expect(changedFields(null, { status: 'ACTIVE' })).toEqual({
      before: { status: null },
      after: { status: 'ACTIVE' },
    });
    expect(changedFields({ status: 'ACTIVE' }, { status: 'ACTIVE' })).toEqual({
      before: {},
      after: {},
    });
  });
});

describe('cliActor', () => {
  it('names the operating-system user, with no key', () => {
    expect(cliActor()).toMatchObject({ kind: 'CLI', keyId: null });
    expect(cliActor().name.length).toBeGreaterThan(0);
  });
});
