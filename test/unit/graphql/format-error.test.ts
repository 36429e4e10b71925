import { describe, expect, it } from 'vitest';
import { withoutValues } from '../../../src/graphql/format-error.js';

describe('request error messages carry no values', () => {
  it.each([
    [
      'Variable "$input" got invalid value 13812345678 at "input[0].name"; String cannot represent a non string value: 13812345678',
      'Variable "$input" got an invalid value at "input[0].name"; String cannot represent a non string value',
    ],
    [
      'Variable "$id" got invalid value { a: "王伟" }; ID cannot represent value: { a: "王伟" }',
      'Variable "$id" got an invalid value; ID cannot represent value',
    ],
    [
      'Expected value of type "String", found 13812345678; String cannot represent a non string value: 13812345678',
      'Expected value of type "String"',
    ],
    [
      'Variable "$f" got invalid value "wei@example.cn" at "f.field"; Value "wei@example.cn" does not exist in "CustomerOrderField" enum.',
      'Variable "$f" got an invalid value at "f.field"; The value does not exist in "CustomerOrderField" enum.',
    ],
  ])('%s', (message, expected) => {
    expect(withoutValues(message)).toBe(expected);
  });

  it('leaves messages without values alone', () => {
    const message = 'Cannot query field "nmae" on type "Customer". Did you mean "name"?';
    expect(withoutValues(message)).toBe(message);
  });
});
