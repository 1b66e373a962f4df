<?xml version="1.0" encoding="UTF-8"?>
<!-- Licensing's canonical CivilStatusQuery → the civil registry's rop:GetMaritalStatus. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:rop="urn:om:rop:civilregistry:2019"
    exclude-result-prefixes="rabt">
  <xsl:output method="xml" encoding="UTF-8"/>

  <xsl:template match="/rabt:CivilStatusQuery">
    <rop:GetMaritalStatus>
      <rop:CivilNo><xsl:value-of select="normalize-space(rabt:CivilNumber)"/></rop:CivilNo>
    </rop:GetMaritalStatus>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected a canonical CivilStatusQuery, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
