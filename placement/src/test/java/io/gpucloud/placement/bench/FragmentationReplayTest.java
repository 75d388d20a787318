package io.gpucloud.placement.bench;

import io.gpucloud.placement.PlacementPolicy;
import io.gpucloud.placement.PolicyWeights;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** A short replay so that a policy regression fails the build (the full benchmark is a main class). */
class FragmentationReplayTest {

    @Test
    void oursBeatsSpreadAndFirstFitOnEightGpuAcceptance() {
        Trace trace = new Trace(4242, 8000, 0.90, 400);
        Replay.Result spread = Replay.run("spread", trace, 50, 800, c -> Baselines.spread(c, 1), Replay.Hint.NONE);
        Replay.Result ours = Replay.run("ours", trace, 50, 800,
                c -> new PlacementPolicy(PolicyWeights.DEFAULTS, c), Replay.Hint.EXACT);
        Replay.Result oracle = Replay.oracle(trace, 50, 800);
        assertThat(ours.accept8()).isGreaterThan(spread.accept8() + 0.5);
        assertThat(ours.rejectionRate()).isLessThan(spread.rejectionRate() / 2);
        assertThat(ours.fragRate()).isLessThan(spread.fragRate() / 4);
        assertThat(oracle.fragRejected()).isZero();
        assertThat(oracle.accept8()).isGreaterThanOrEqualTo(ours.accept8() - 0.02);
    }

    @Test
    void firstFitDecreasingOnDivisibleSizesNeedsCeilTotalOverEight() {
        Random rnd = new Random(3);
        for (int round = 0; round < 500; round++) {
            int[] counts = new int[9];
            int total = 0;
            java.util.List<Integer> items = new java.util.ArrayList<>();
            for (int s = 1; s <= 8; s *= 2) {
                counts[s] = rnd.nextInt(12);
                total += counts[s] * s;
                for (int k = 0; k < counts[s]; k++) {
                    items.add(s);
                }
            }
            items.sort(java.util.Comparator.reverseOrder());
            java.util.List<Integer> boards = new java.util.ArrayList<>();
            for (int item : items) { // explicit first-fit-decreasing
                int b = 0;
                while (b < boards.size() && boards.get(b) + item > 8) {
                    b++;
                }
                if (b == boards.size()) {
                    boards.add(0);
                }
                boards.set(b, boards.get(b) + item);
            }
            assertThat(Replay.firstFitDecreasingBoards(counts)).isEqualTo(boards.size()).isEqualTo((total + 7) / 8);
        }
    }
}
