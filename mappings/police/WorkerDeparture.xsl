<?xml version="1.0" encoding="UTF-8"?>
<!-- Police border bdr:NotifyDeparture (border.xsd, 2020) → canonical WorkerDeparture. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:bdr="urn:om:rop:border:2020" xmlns:rabt="urn:rabt:canonical:v1"
    exclude-result-prefixes="bdr">
  <xsl:include href="_police.xsl"/>
  <xsl:output method="xml" encoding="UTF-8"/>

  <xsl:template match="/bdr:NotifyDeparture">
    <rabt:WorkerDeparture>
      <rabt:Worker>
        <xsl:call-template name="traveller">
          <xsl:with-param name="traveller" select="bdr:Traveller"/>
          <xsl:with-param name="card" select="bdr:ResidentCardNo"/>
        </xsl:call-template>
      </rabt:Worker>
      <xsl:call-template name="passport"><xsl:with-param name="traveller" select="bdr:Traveller"/></xsl:call-template>
      <xsl:call-template name="port">
        <xsl:with-param name="port" select="bdr:ExitPort"/>
        <xsl:with-param name="tag" select="'PortOfExit'"/>
      </xsl:call-template>
      <xsl:call-template name="flight"><xsl:with-param name="number" select="bdr:FlightNo"/></xsl:call-template>
      <rabt:DepartedAt>
        <xsl:call-template name="utc-time"><xsl:with-param name="t" select="bdr:ExitDateTime"/></xsl:call-template>
      </rabt:DepartedAt>
      <rabt:DepartureKind>
        <!-- xs:boolean: "true" or "1" is a final exit -->
        <xsl:choose>
          <xsl:when test="normalize-space(bdr:FinalExit) = 'true' or normalize-space(bdr:FinalExit) = '1'">final</xsl:when>
          <xsl:otherwise>temporary</xsl:otherwise>
        </xsl:choose>
      </rabt:DepartureKind>
      <xsl:if test="bdr:ResidentCardNo">
        <rabt:ResidenceCardNumber><xsl:value-of select="normalize-space(bdr:ResidentCardNo)"/></rabt:ResidenceCardNumber>
      </xsl:if>
      <xsl:if test="bdr:SponsorCRNo">
        <rabt:EmployerCR><xsl:value-of select="normalize-space(bdr:SponsorCRNo)"/></rabt:EmployerCR>
      </xsl:if>
    </rabt:WorkerDeparture>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected bdr:NotifyDeparture, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
