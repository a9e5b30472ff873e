/**
 * The element-path reader behind `unmodelled-config`: what it reads as an element, and what it
 * leaves out. A false "missing" blocks every rotation, a missed one drops a setting.
 */
import { describe, expect, it } from 'vitest';
import {
  documentPaths,
  elementPaths,
  formListPaths,
  listPaths,
  missingPaths,
  readXml,
  XmlReadError,
} from '../src/aws/round-trip.js';

const sorted = (paths: Set<string>): string[] => [...paths].sort();

describe('readXml and documentPaths', () => {
  it('skips the XML declaration, comments and processing instructions, and ignores attributes and xmlns', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment with <Fake>elements</Fake> -->
<Root xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/" a='x>y' b="1"><?pi data?><A id="2">1</A></Root>`;

    expect(sorted(documentPaths(xml))).toEqual(['Root', 'Root/A']);
  });

  it('reads self-closing tags, with or without attributes and a space, as empty elements', () => {
    expect(sorted(documentPaths('<R><A/><B /><C x="1"/><D></D></R>'))).toEqual([
      'R',
      'R/A',
      'R/B',
      'R/C',
      'R/D',
    ]);
  });

  it('gives paths without list indices: repeated elements are one path', () => {
    const xml =
      '<O><Items><Origin><Id>a</Id></Origin><Origin><Id>b</Id><Extra>1</Extra></Origin></Items></O>';

    expect(sorted(documentPaths(xml))).toEqual([
      'O',
      'O/Items',
      'O/Items/Origin',
      'O/Items/Origin/Extra',
      'O/Items/Origin/Id',
    ]);
  });

  it('with withContentOnly, leaves out empty elements (<Items/>, <Items></Items>, white space) but keeps a parent of empty elements', () => {
    const xml =
      '<R><A/><B></B><C>  \n </C><D><E/></D><F>0</F><G><![CDATA[x]]></G><H><![CDATA[]]></H></R>';

    expect(sorted(documentPaths(xml, { withContentOnly: true }))).toEqual([
      'R',
      'R/D',
      'R/F',
      'R/G',
    ]);
  });

  it('reads CDATA as text, not markup, and entity references as text', () => {
    const root = readXml('<R><A><![CDATA[<NotAnElement/>]]></A><B>a &amp; b &#x41;</B></R>');

    expect(root.children.map((c) => c.name)).toEqual(['A', 'B']);
    expect(root.children[0]?.children).toEqual([]);
    expect(root.children[0]?.text).toBe('<NotAnElement/>');
    expect(root.children[1]?.text).toBe('a &amp; b &#x41;');
  });

  it('takes the local name of a prefixed element', () => {
    expect(sorted(documentPaths('<x:R xmlns:x="urn:x"><x:A>1</x:A></x:R>'))).toEqual(['R', 'R/A']);
  });

  it('leaves a list wrapper out of the paths (query protocol `member`)', () => {
    const condition = readXml(
      '<member><Field>http-header</Field><HttpHeaderConfig><HttpHeaderName>x</HttpHeaderName><Values><member>a</member><member>b</member></Values><RegexValues/></HttpHeaderConfig></member>',
    );

    expect(
      sorted(elementPaths(condition, { listWrapper: 'member', withContentOnly: true })),
    ).toEqual([
      'Field',
      'HttpHeaderConfig',
      'HttpHeaderConfig/HttpHeaderName',
      'HttpHeaderConfig/Values',
    ]);
  });

  it.each([
    ['an unclosed element', '<R><A>1</R>'],
    ['two roots', '<A/><B/>'],
    ['text outside the root', 'x<R/>'],
    ['no element', '<?xml version="1.0"?>'],
    ['an unclosed comment', '<R><!-- x</R>'],
    ['a DOCTYPE with an internal subset', '<!DOCTYPE R [<!ENTITY e "x">]><R/>'],
  ])('throws XmlReadError on %s', (_, xml) => {
    expect(() => readXml(xml)).toThrow(XmlReadError);
  });

  it('never puts text in a path (a header value is the secret)', () => {
    const paths = sorted(documentPaths('<R><HeaderValue>s3cr3t</HeaderValue></R>'));

    expect(paths.join()).not.toContain('s3cr3t');
  });
});

describe('missingPaths and listPaths', () => {
  it('lists the received paths the sent body lacks, sorted, and none the other way', () => {
    expect(missingPaths(new Set(['R/B', 'R', 'R/A']), new Set(['R', 'R/C']))).toEqual([
      'R/A',
      'R/B',
    ]);
  });

  it('names at most 10 paths and says how many more', () => {
    const many = Array.from({ length: 12 }, (_, i) => `P${i}`);

    expect(listPaths(many)).toBe(`${many.slice(0, 10).join(', ')} and 2 more`);
  });
});

describe('formListPaths', () => {
  it('gives each Conditions.member.N its paths, indices and member wrappers removed, with every prefix', () => {
    const body = new URLSearchParams({
      Action: 'ModifyRule',
      RuleArn: 'arn:r',
      'Conditions.member.1.Field': 'http-header',
      'Conditions.member.1.HttpHeaderConfig.HttpHeaderName': 'x',
      'Conditions.member.1.HttpHeaderConfig.Values.member.1': 'secret-value',
      'Conditions.member.1.HttpHeaderConfig.Values.member.2': 'other',
      'Conditions.member.2.QueryStringConfig.Values.member.1.Key': 'k',
      'Conditions.member.2.HostHeaderConfig.Values': '',
    }).toString();

    const paths = formListPaths(body, 'Conditions');

    expect(sorted(paths.get(0) ?? new Set())).toEqual([
      'Field',
      'HttpHeaderConfig',
      'HttpHeaderConfig/HttpHeaderName',
      'HttpHeaderConfig/Values',
    ]);
    expect(sorted(paths.get(1) ?? new Set())).toEqual([
      'HostHeaderConfig',
      'HostHeaderConfig/Values',
      'QueryStringConfig',
      'QueryStringConfig/Values',
      'QueryStringConfig/Values/Key',
    ]);
    expect([...paths.keys()].sort()).toEqual([0, 1]);
  });
});
