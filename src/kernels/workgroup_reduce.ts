// Workgroup reductions: the one building block every kernel that combines values across its
// workgroup uses (llm.c's blockReduce is the model). Each invocation brings its values, the workgroup
// combines them in a tree in workgroup memory, and every invocation gets the totals back.
//
// The barrier discipline lives here and nowhere else: a barrier before each level of the tree (the
// level below has been written), one after the last level (the totals are read by every invocation),
// and, with finalSync, one after that read, so that the caller may reduce again (in a loop) without
// overwriting totals another invocation has not read yet. Call these functions in uniform control
// flow: every invocation of the workgroup, the same number of times.

/**
 * WGSL of `fn <name>(lid: u32, values: array<f32, count>) -> array<f32, count>`: each of the count
 * values summed over the workgroup's `workgroup` invocations (a power of two).
 */
export function blockSum(name: string, workgroup: number, count: number, finalSync: boolean): string {
  return /* wgsl */ `
var<workgroup> ${name}Scratch: array<f32, ${count * workgroup}>;

fn ${name}(lid: u32, values: array<f32, ${count}>) -> array<f32, ${count}> {
  for (var k = 0u; k < ${count}u; k++) { ${name}Scratch[k * ${workgroup}u + lid] = values[k]; }
  for (var width = ${workgroup / 2}u; width > 0u; width = width / 2u) {
    workgroupBarrier();
    if (lid < width) {
      for (var k = 0u; k < ${count}u; k++) { ${name}Scratch[k * ${workgroup}u + lid] += ${name}Scratch[k * ${workgroup}u + lid + width]; }
    }
  }
  workgroupBarrier();
  var totals: array<f32, ${count}>;
  for (var k = 0u; k < ${count}u; k++) { totals[k] = ${name}Scratch[k * ${workgroup}u]; }${finalSync ? '\n  workgroupBarrier();' : ''}
  return totals;
}
`;
}

/**
 * WGSL of `fn <name>(lid: u32, count: f32, mean: f32, m2: f32) -> vec3<f32>`: the (count, mean, M2)
 * of every invocation's values merged over the workgroup with Chan et al.'s pairwise formula
 * (M2 = sum of squared deviations from the mean), returned as (count, mean, M2).
 */
export function blockMeanM2(name: string, workgroup: number): string {
  return /* wgsl */ `
var<workgroup> ${name}Counts: array<f32, ${workgroup}>;
var<workgroup> ${name}Means: array<f32, ${workgroup}>;
var<workgroup> ${name}M2s: array<f32, ${workgroup}>;

fn ${name}(lid: u32, count: f32, mean: f32, m2: f32) -> vec3<f32> {
  ${name}Counts[lid] = count;
  ${name}Means[lid] = mean;
  ${name}M2s[lid] = m2;
  for (var width = ${workgroup / 2}u; width > 0u; width = width / 2u) {
    workgroupBarrier();
    if (lid < width) {
      let nb = ${name}Counts[lid + width];
      if (nb > 0.0) {
        let na = ${name}Counts[lid];
        let total = na + nb;
        let delta = ${name}Means[lid + width] - ${name}Means[lid];
        ${name}Means[lid] += delta * (nb / total);
        ${name}M2s[lid] += ${name}M2s[lid + width] + delta * delta * (na * nb / total);
        ${name}Counts[lid] = total;
      }
    }
  }
  workgroupBarrier();
  return vec3<f32>(${name}Counts[0], ${name}Means[0], ${name}M2s[0]);
}
`;
}
