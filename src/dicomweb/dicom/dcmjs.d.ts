// The parts of dcmjs (which ships no types) that Isogate uses: its dictionary and its writer.
declare module 'dcmjs' {
  interface DicomDictInstance {
    dict: Record<string, unknown>
    write(options?: { allowInvalidVRLength?: boolean; fragmentMultiframe?: boolean }): ArrayBuffer
  }
  const dcmjs: {
    data: {
      DicomMetaDictionary: {
        dictionary: Record<string, { vr: string; name: string } | undefined>
        denaturalizeDataset(dataset: Record<string, unknown>): Record<string, unknown>
      }
      DicomDict: new (meta: Record<string, unknown>) => DicomDictInstance
    }
  }
  export default dcmjs
}
