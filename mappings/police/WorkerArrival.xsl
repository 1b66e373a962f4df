<?xml version="1.0" encoding="UTF-8"?>
<!-- Police border bdr:NotifyArrival (border.xsd, 2020) → canonical WorkerArrival. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:bdr="urn:om:rop:border:2020" xmlns:rabt="urn:rabt:canonical:v1"
    exclude-result-prefixes="bdr">
  <xsl:include href="_police.xsl"/>
  <xsl:output method="xml" encoding="UTF-8"/>

  <xsl:template match="/bdr:NotifyArrival">
    <rabt:WorkerArrival>
      <rabt:Worker>
        <xsl:call-template name="traveller">
          <xsl:with-param name="traveller" select="bdr:Traveller"/>
          <xsl:with-param name="card" select="bdr:ResidentCardNo"/>
        </xsl:call-template>
      </rabt:Worker>
      <xsl:call-template name="passport"><xsl:with-param name="traveller" select="bdr:Traveller"/></xsl:call-template>
      <rabt:VisaNumber><xsl:value-of select="normalize-space(bdr:VisaNo)"/></rabt:VisaNumber>
      <xsl:call-template name="port">
        <xsl:with-param name="port" select="bdr:EntryPort"/>
        <xsl:with-param name="tag" select="'PortOfEntry'"/>
      </xsl:call-template>
      <xsl:call-template name="flight"><xsl:with-param name="number" select="bdr:FlightNo"/></xsl:call-template>
      <rabt:ArrivedAt>
        <xsl:call-template name="utc-time"><xsl:with-param name="t" select="bdr:EntryDateTime"/></xsl:call-template>
      </rabt:ArrivedAt>
      <xsl:if test="bdr:SponsorCRNo">
        <rabt:EmployerCR><xsl:value-of select="normalize-space(bdr:SponsorCRNo)"/></rabt:EmployerCR>
      </xsl:if>
      <xsl:if test="bdr:SponsorCivilNo">
        <rabt:SponsorCivilNumber><xsl:value-of select="normalize-space(bdr:SponsorCivilNo)"/></rabt:SponsorCivilNumber>
      </xsl:if>
    </rabt:WorkerArrival>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected bdr:NotifyArrival, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
