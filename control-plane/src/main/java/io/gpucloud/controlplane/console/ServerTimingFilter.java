package io.gpucloud.controlplane.console;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.Locale;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;
import jakarta.servlet.http.HttpServletResponseWrapper;

/**
 * Adds {@code Server-Timing: app;dur=<ms>} to console responses: the server time from the request
 * entering the filter chain (security included) until the page is rendered, which browsers'
 * developer tools and the console benchmark ({@code benchmark.ConsoleBenchmark}) read. A header
 * must precede the body, so the response buffer is made large enough to hold a page
 * ({@value #BUFFER} bytes) and the header is set at the first flush (Thymeleaf flushes once it has
 * rendered the page), redirect or error, or when the chain returns; a response that commits earlier
 * on its own (a larger body, a forward) goes out without it.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE)
class ServerTimingFilter extends OncePerRequestFilter {

    static final String HEADER = "Server-Timing";
    static final int BUFFER = 256 * 1024;

    @Override
    protected boolean shouldNotFilter(HttpServletRequest request) {
        String path = request.getRequestURI().substring(request.getContextPath().length());
        String accept = request.getHeader("Accept");
        return !(path.equals("/console") || path.startsWith("/console/") || path.equals("/login"))
                || (accept != null && accept.contains("text/event-stream"));
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        Timed timed = new Timed(response, System.nanoTime());
        if (response.getBufferSize() < BUFFER) {
            response.setBufferSize(BUFFER);
        }
        try {
            chain.doFilter(request, timed);
        } finally {
            timed.stamp();
        }
    }

    private static final class Timed extends HttpServletResponseWrapper {

        private final long start;
        private boolean stamped;

        Timed(HttpServletResponse response, long start) {
            super(response);
            this.start = start;
        }

        void stamp() {
            if (stamped) return;
            stamped = true;
            if (!isCommitted()) {
                setHeader(HEADER, String.format(Locale.ROOT, "app;dur=%.1f", (System.nanoTime() - start) / 1e6));
            }
        }

        private PrintWriter writer;
        private ServletOutputStream stream;

        @Override
        public PrintWriter getWriter() throws IOException {
            if (writer == null) {
                writer = new PrintWriter(super.getWriter(), false) {
                    @Override
                    public void flush() {
                        stamp();
                        super.flush();
                    }

                    @Override
                    public void close() {
                        stamp();
                        super.close();
                    }
                };
            }
            return writer;
        }

        @Override
        public ServletOutputStream getOutputStream() throws IOException {
            if (stream == null) {
                ServletOutputStream out = super.getOutputStream();
                stream = new ServletOutputStream() {
                    @Override
                    public void write(int b) throws IOException {
                        out.write(b);
                    }

                    @Override
                    public void write(byte[] b, int off, int len) throws IOException {
                        out.write(b, off, len);
                    }

                    @Override
                    public void flush() throws IOException {
                        stamp();
                        out.flush();
                    }

                    @Override
                    public void close() throws IOException {
                        stamp();
                        out.close();
                    }

                    @Override
                    public boolean isReady() {
                        return out.isReady();
                    }

                    @Override
                    public void setWriteListener(WriteListener listener) {
                        out.setWriteListener(listener);
                    }
                };
            }
            return stream;
        }

        @Override
        public void flushBuffer() throws IOException {
            stamp();
            super.flushBuffer();
        }

        @Override
        public void sendRedirect(String location) throws IOException {
            stamp();
            super.sendRedirect(location);
        }

        @Override
        public void sendError(int sc) throws IOException {
            stamp();
            super.sendError(sc);
        }

        @Override
        public void sendError(int sc, String msg) throws IOException {
            stamp();
            super.sendError(sc, msg);
        }
    }
}
