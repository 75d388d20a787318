package io.gpucloud.controlplane.web;

import org.apache.catalina.core.StandardHost;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Requests Tomcat refuses on its own get problem+json too ({@link ProblemErrorReportValve}). */
@Configuration(proxyBeanMethods = false)
class TomcatErrorPages {

    @Bean
    WebServerFactoryCustomizer<TomcatServletWebServerFactory> problemJsonErrorReports() {
        // the context is added to its host before customizers run, and the host adds its error report
        // valve only when it starts, so naming the class here replaces Tomcat's HTML one
        return factory -> factory.addContextCustomizers(context -> {
            if (context.getParent() instanceof StandardHost host) {
                host.setErrorReportValveClass(ProblemErrorReportValve.class.getName());
            }
        });
    }
}
