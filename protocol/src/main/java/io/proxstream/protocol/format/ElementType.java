package io.proxstream.protocol.format;

import java.nio.ByteBuffer;

/** Element types of tensor files, with the conversion of the float types to float32 (little-endian). */
public enum ElementType {
    F32(4), F64(8), F16(2), BF16(2), I64(8);

    private final int bytes;

    ElementType(int bytes) {
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }

    /** Reads one element at the buffer's position (advancing it; the buffer must be little-endian). */
    public float read(ByteBuffer b) {
        return switch (this) {
            case F32 -> b.getFloat();
            case F64 -> (float) b.getDouble();
            case F16 -> halfToFloat(b.getShort());
            case BF16 -> Float.intBitsToFloat((b.getShort() & 0xffff) << 16);
            case I64 -> throw new IllegalStateException("I64 is not a float type");
        };
    }

    /** IEEE 754 binary16 to float. */
    public static float halfToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign);
            }
            // subnormal: mant * 2^-24
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        if (exp == 31) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }
}
