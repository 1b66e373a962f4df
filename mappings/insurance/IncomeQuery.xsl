<?xml version="1.0" encoding="UTF-8"?>
<!--
  Licensing's canonical IncomeQuery → spf:GetIncomeProof, for one of the two
  funds that serve the same contract (parameter "system": social-insurance or
  civil-service-pension). A query that names its Source is put to that fund
  only: for the other one this mapping answers outbound:Skip. A query without
  Source is put to each fund in turn; the fund that insures the person answers.
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:spf="urn:om:spf:income:1"
    xmlns:outbound="urn:rabt:outbound"
    exclude-result-prefixes="rabt">
  <xsl:output method="xml" encoding="UTF-8"/>
  <xsl:param name="system"/>

  <xsl:template match="/rabt:IncomeQuery">
    <xsl:variable name="source" select="normalize-space(rabt:Source)"/>
    <xsl:choose>
      <xsl:when test="$source != '' and $source != $system">
        <outbound:Skip reason="the query asks the {$source} fund"/>
      </xsl:when>
      <xsl:otherwise>
        <spf:GetIncomeProof>
          <spf:CivilId><xsl:value-of select="normalize-space(rabt:CivilNumber)"/></spf:CivilId>
        </spf:GetIncomeProof>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected a canonical IncomeQuery, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
