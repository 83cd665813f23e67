/**
 * A view bank relabelled on the student's own pixels: the teacher run on each stored 55x47 crop,
 * upsampled into its 150x150 chip (teacherChipInStudentCrop, black outside the crop, as
 * `eval-lfw --model teacher-on-crops` does), instead of on its chip of the full-resolution photo.
 * Such targets are a function of exactly what the student sees, the "consistent teacher" of Beyer
 * et al. (CVPR 2022) carried over from augmentation to field of view and resolution: the part of
 * the photo's descriptor that the crop cannot show is no longer asked of the student.
 */
import { teacherChipInStudentCrop } from '../../face/align.js';
import type { TeacherNet } from '../../face/networks.js';
import { STUDENT_CROP_HEIGHT, STUDENT_CROP_WIDTH } from '../../face/student-graph.js';
import { DESCRIPTOR_SIZE, HIDDEN_SIZE, readRecord, type PreparedChunk, type PreparedRecord } from './cache.js';

/** Every record of `chunk` with its crop kept and the teacher's outputs on that crop, `batch` crops per teacher run. */
export function relabelChunk(chunk: PreparedChunk, teacher: TeacherNet, batch: number): PreparedRecord[][] {
  const chipToImage = teacherChipInStudentCrop(chunk.windowScale);
  const crops = chunk.keys.flatMap((_, i) => Array.from({ length: chunk.views }, (_, v) => readRecord(chunk, i, v).crop));
  const records: PreparedRecord[] = [];
  for (let first = 0; first < crops.length; first += batch) {
    const slice = crops.slice(first, first + batch);
    const out = teacher.embedChips(slice.map((data) => ({ image: { width: STUDENT_CROP_WIDTH, height: STUDENT_CROP_HEIGHT, data }, chipToImage })));
    slice.forEach((crop, k) => records.push({
      crop,
      hidden: out.hidden.slice(k * HIDDEN_SIZE, (k + 1) * HIDDEN_SIZE),
      descriptor: out.descriptor.slice(k * DESCRIPTOR_SIZE, (k + 1) * DESCRIPTOR_SIZE),
    }));
  }
  return chunk.keys.map((_, i) => records.slice(i * chunk.views, (i + 1) * chunk.views));
}
