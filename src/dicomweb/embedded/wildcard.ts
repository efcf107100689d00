/**
 * DICOM wildcard matching for QIDO (PS3.4 C.2.2.2.4): `*` matches any run of characters, `?`
 * exactly one. Written as the two-pointer walk that remembers only the last `*` rather than as
 * a regular expression: a value of many `*` made the regex backtrack exponentially, so one
 * query held the event loop for minutes. This costs at most pattern × value steps.
 */
export function wildcardMatch(pattern: string, value: string, caseless = false): boolean {
  const p = [...(caseless ? pattern.toLowerCase() : pattern)]
  const v = [...(caseless ? value.toLowerCase() : value)]
  let i = 0
  let j = 0
  // Where the last `*` was, and the value position it is currently made to cover up to.
  let star = -1
  let covered = 0
  while (j < v.length) {
    if (i < p.length && p[i] !== '*' && (p[i] === '?' || p[i] === v[j])) {
      i++
      j++
    } else if (i < p.length && p[i] === '*') {
      star = i++
      covered = j
    } else if (star >= 0) {
      // Let the last `*` take one more character and try the rest again from there.
      i = star + 1
      j = ++covered
    } else {
      return false
    }
  }
  while (i < p.length && p[i] === '*') i++
  return i === p.length
}
