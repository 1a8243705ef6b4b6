/**
 * Imported first by both pages. The server's Content-Security-Policy allows no
 * eval (security-headers.ts); zod 4 would probe for it with `new Function('')`
 * on the first parse, which the browser refuses and reports as a violation
 * even though zod catches it and parses without compiling. Say so up front.
 */
import { z } from 'zod';

z.config({ jitless: true });
