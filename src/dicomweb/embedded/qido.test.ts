import assert from 'node:assert/strict'
import { test } from 'node:test'

import { matchesQuery, page, parseQidoQuery, type QidoQuery } from './qido.js'

function parse(search: string): QidoQuery {
  const q = parseQidoQuery(search)
  assert.ok(typeof q !== 'string', String(q))
  return q
}

const study = {
  '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^Jane' }] },
  '00100020': { vr: 'LO', Value: ['ID-42'] },
  '00080020': { vr: 'DA', Value: ['20240315'] },
  '00080061': { vr: 'CS', Value: ['CT', 'SR'] },
  '00080050': { vr: 'SH', Value: ['ACC1'] },
  '0020000D': { vr: 'UI', Value: ['1.2.3'] },
}

test('includefield: repeated, comma-joined and %2C-joined give the same set', () => {
  const a = parse('includefield=00081030&includefield=00080060')
  const b = parse('includefield=00081030,00080060')
  const c = parse('includefield=00081030%2C00080060')
  for (const q of [a, b, c]) assert.deepEqual([...q.include].sort(), ['00080060', '00081030'])
  assert.equal(parse('includefield=all').includeAll, true)
  assert.deepEqual([...parse('includefield=StudyDescription').include], ['00081030'])
  assert.match(String(parseQidoQuery('includefield=NoSuchThing')), /unknown attribute/)
})

test('PatientName wildcards match case-insensitively; other strings exactly', () => {
  for (const s of [
    'PatientName=doe*',
    'PatientName=*JANE',
    'PatientName=D?e^Jane',
    'PatientName=*',
  ]) {
    assert.ok(matchesQuery(study, parse(s)), s)
  }
  assert.ok(!matchesQuery(study, parse('PatientName=Smith*')))
  assert.ok(matchesQuery(study, parse('PatientID=ID-42')))
  assert.ok(!matchesQuery(study, parse('PatientID=id-42')))
  assert.ok(matchesQuery(study, parse('AccessionNumber=ACC*')))
  // A regex character in the query is literal.
  assert.ok(!matchesQuery(study, parse('PatientID=ID.42')))
})

test('StudyDate ranges, open at either end; exact dates', () => {
  for (const s of [
    '20240101-20241231',
    '20240315',
    '-20240315',
    '20240315-',
    '20240315-20240315',
  ]) {
    assert.ok(matchesQuery(study, parse(`StudyDate=${s}`)), s)
  }
  for (const s of ['20240316-', '-20240314', '20230101-20231231']) {
    assert.ok(!matchesQuery(study, parse(`StudyDate=${s}`)), s)
  }
})

test('ModalitiesInStudy matches any modality; UID lists match any UID', () => {
  assert.ok(matchesQuery(study, parse('ModalitiesInStudy=SR')))
  assert.ok(matchesQuery(study, parse('ModalitiesInStudy=MR\\CT')))
  assert.ok(!matchesQuery(study, parse('ModalitiesInStudy=MR')))
  assert.ok(matchesQuery(study, parse('StudyInstanceUID=9.9,1.2.3')))
  assert.ok(matchesQuery(study, parse('StudyInstanceUID=9.9%5C1.2.3')))
  assert.ok(!matchesQuery(study, parse('StudyInstanceUID=1.2')))
})

test('a missing attribute never matches a non-empty filter; empty values match all', () => {
  assert.ok(!matchesQuery({}, parse('PatientID=x')))
  assert.ok(matchesQuery({}, parse('PatientID=')))
  assert.deepEqual([...parse('PatientID=').include], ['00100020'])
})

test('limit and offset page the results; bad numbers are refused', () => {
  const items = [1, 2, 3, 4, 5]
  assert.deepEqual(page(items, parse('limit=2&offset=1'), 100), [2, 3])
  assert.deepEqual(page(items, parse('offset=4'), 100), [5])
  assert.deepEqual(page(items, parse(''), 3), [1, 2, 3])
  assert.match(String(parseQidoQuery('limit=-1')), /non-negative/)
  assert.match(String(parseQidoQuery('Nonsense=1')), /unknown attribute/)
  assert.ok(typeof parseQidoQuery('fuzzymatching=false') !== 'string')
})
