// A Java method reading System.nanoTime() a known number of times (argv[0]), for tests/e2e_jit.
public class NanoClock {
    static long hot(int n) {
        long s = 0;
        for (int i = 0; i < n; i++) s += System.nanoTime();
        return s;
    }

    public static void main(String[] args) {
        System.out.println(hot(Integer.parseInt(args[0])) != 0 ? "ok" : "zero");
    }
}
