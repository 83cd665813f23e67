// Neuron selection: the correlation ratio against a hand computation, UTKFace key parsing, and
// synthetic teacher neurons where the planted identity neurons (driven by gender and race) must
// be chosen over age-driven, mixed, pure-noise and dead neurons.
import { describe, expect, it } from 'vitest';
import { gaussian, seededRandom } from '../src/math/random.js';
import { TrainingError } from '../src/tools/train/errors.js';
import { ageGroup, correlationRatio, parseUtkFaceKey, scoreNeurons, selectTop, utkFaceAttributes } from '../src/tools/train/selection.js';

describe('correlationRatio', () => {
  it('is the between-class share of the variance, skipping unlabelled samples', () => {
    // column 0: class means 1.5 and 3.5 around 2.5: between 4, total 5; column 1 constant
    const features = Float32Array.from([1, 7, 2, 7, 3, 7, 4, 7, 100, 7]);
    const ratio = correlationRatio(features, 2, Int32Array.from([0, 0, 1, 1, -1]));
    expect(ratio[0]).toBeCloseTo(0.8, 12);
    expect(ratio[1]).toBe(0);
  });
  it('rejects features of the wrong size', () => {
    expect(() => correlationRatio(new Float32Array(5), 2, new Int32Array(3))).toThrow(TrainingError);
  });
});

describe('UTKFace attributes', () => {
  it('parses <age>_<gender>_<race>_<date>.jpg keys and rejects malformed ones', () => {
    expect(parseUtkFaceKey('26_1_2_20170116174525125.jpg')).toEqual({ age: 26, gender: 1, race: 2 });
    expect(parseUtkFaceKey('images/1_0_0_20161219140623097.jpg.chip.jpg')).toEqual({ age: 1, gender: 0, race: 0 });
    expect(parseUtkFaceKey('61_1_20170109142408075.jpg')).toBeNull(); // race missing
    expect(parseUtkFaceKey('39_1_20170116174525125.jpg')).toBeNull();
    expect(parseUtkFaceKey('25_3_1_20170116174525125.jpg')).toBeNull(); // gender out of range
    expect(parseUtkFaceKey('Aaron_Eckhart/Aaron_Eckhart_0001')).toBeNull();
  });
  it('labels gender, race and age group, -1 where the key is malformed', () => {
    const [gender, race, age] = utkFaceAttributes(['26_1_2_2017.jpg', 'bad.jpg', '75_0_4_2017.jpg']);
    expect([gender.kind, race.kind, age.kind]).toEqual(['identity', 'identity', 'nuisance']);
    expect(Array.from(gender.labels)).toEqual([1, -1, 0]);
    expect(Array.from(race.labels)).toEqual([2, -1, 4]);
    expect(Array.from(age.labels)).toEqual([ageGroup(26), -1, ageGroup(75)]);
    expect([ageGroup(0), ageGroup(12), ageGroup(13), ageGroup(29), ageGroup(30), ageGroup(116)]).toEqual([0, 0, 1, 2, 3, 7]);
  });
});

describe('selecting identity neurons', () => {
  // 3000 faces; neurons 0-7 depend on gender and race, 8-15 on age, 16-23 on race and (more)
  // on age, 24-46 are noise, 47 is dead (always 0)
  const random = seededRandom(3);
  const n = 3000;
  const dims = 48;
  const keys: string[] = [];
  const features = new Float32Array(n * dims);
  const raceEffect = [-1, 1, 0.5, -0.5, 0];
  for (let s = 0; s < n; s++) {
    const gender = random() < 0.5 ? 0 : 1;
    const race = Math.floor(random() * 5);
    const age = 1 + Math.floor(random() * 90);
    keys.push(`${age}_${gender}_${race}_2017${s}.jpg`);
    const ageEffect = (age - 45) / 25;
    for (let j = 0; j < dims; j++) {
      let v = gaussian(random);
      if (j < 8) v += (j % 2 ? 1.2 : 0.6) * (gender - 0.5) * 2 + (j % 3) * 0.5 * raceEffect[race];
      else if (j < 16) v += 1.5 * ageEffect;
      else if (j < 24) v += 0.8 * raceEffect[race] + 2 * ageEffect;
      else if (j === 47) v = 0;
      features[s * dims + j] = Math.max(0, v + 2); // ReLU outputs, like the teacher's hidden layer
    }
  }
  const attributes = utkFaceAttributes(keys);

  it('keeps exactly the planted identity neurons', () => {
    const scores = scoreNeurons(features, dims, attributes);
    expect(selectTop(scores.score, 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // the age-driven neurons score below every noise neuron; the dead one scores 0
    const noise = Array.from(scores.score.subarray(24, 47));
    expect(Math.max(...Array.from(scores.score.subarray(8, 16)))).toBeLessThan(Math.min(...noise));
    expect(scores.score[47]).toBe(0);
  });

  it('ranks mixed identity/age neurons by the nuisance weight', () => {
    // ignoring age, the race-driven mixed neurons are identity-informative and come right after
    const ignoringAge = selectTop(scoreNeurons(features, dims, attributes, 0).score, 16);
    expect(ignoringAge).toEqual(Array.from({ length: 16 }, (_, j) => (j < 8 ? j : j + 8)));
    // with age as nuisance they drop behind the noise neurons
    const penalised = scoreNeurons(features, dims, attributes, 1).score;
    expect(Math.max(...Array.from(penalised.subarray(16, 24)))).toBeLessThan(Math.min(...Array.from(penalised.subarray(24, 47))));
  });

  it('rejects an impossible k and a selection without identity attributes', () => {
    const scores = scoreNeurons(features, dims, attributes);
    expect(() => selectTop(scores.score, 0)).toThrow(TrainingError);
    expect(() => selectTop(scores.score, dims + 1)).toThrow(TrainingError);
    expect(() => scoreNeurons(features, dims, attributes.filter((a) => a.kind === 'nuisance'))).toThrow(TrainingError);
  });
});
